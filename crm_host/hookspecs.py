"""The plugin contract: every hook the host calls, and nothing else.

Conventions (they hold for every hook below):

* Hooks named ``crm_*`` that return lists are *collecting*: each enabled plugin's answer is
  gathered in a deterministic order (the host first, then plugins in dependency order, ties
  broken by name) and flattened.
  Return ``None`` or an empty list to contribute nothing.
* A hook implementation that raises marks its plugin **broken** (with the traceback kept for
  ``crm modules info``); the host and the other plugins keep serving.
* A misspelled hook implementation is refused at load time (the plugin is marked broken).
  Implement a hook published by an optional, other plugin with
  ``@hookimpl(optionalhook=True)``.
* Hooks run with a Flask application context. Request-scoped hooks (those taking ``user``)
  also run inside a request, so ``flask.g`` and ``crm_host.db.session()`` are available.

The contract is versioned by :data:`crm_host.HOOK_API_VERSION`.
"""

from __future__ import annotations

from crm_host import hookspec

# --- Structure ---------------------------------------------------------------------------


@hookspec
def crm_entities():
    """Describe the plugin's record types.

    :returns: a list of :class:`crm_host.Entity`. The host uses them for record scopes,
        the audit trail, global numbering rules (``numbering_kind`` and
        ``default_number_pattern``) and import/export. Entity names are
        ``"<module>.<thing>"`` and must be unique across plugins: a second plugin declaring
        the same name is refused (marked broken).

    Example::

        @hookimpl
        def crm_entities():
            return [Entity(name="customers.customer", model=Customer, label=_l("Customer"),
                           numbering_kind="customer", default_number_pattern="C{yyyy}{seq:05}")]
    """


@hookspec
def crm_blueprints():
    """Return the Flask blueprints that carry the plugin's pages and API.

    :returns: a list of :class:`flask.Blueprint`. A :class:`crm_host.api.Blueprint` (a
        flask-smorest blueprint) is registered on the REST API (under ``/api/v1`` when its
        ``url_prefix`` says so) and documented in ``/api/openapi.json``; a plain Flask blueprint
        is registered as is.

    Every installed plugin's blueprints are registered when the process starts (Flask cannot
    unregister them). While the module is disabled a gate answers 404 before any of its
    views runs, so a blueprint must never be shared between two plugins.
    """


@hookspec
def crm_menu_items():
    """Return navigation entries.

    :returns: a list of :class:`crm_host.MenuItem`. ``permission`` hides the item from users
        who lack it; ``section`` is ``"main"`` (sidebar), ``"admin"`` (administration
        group), ``"user"`` (the personal menu) or ``"header"`` (an icon in the top bar, with
        its badge). Item ids must be unique across plugins.
    """


@hookspec
def crm_permissions():
    """Declare the permissions the plugin checks.

    :returns: a list of :class:`crm_host.Permission` named ``"<module>.<action>"`` (``view``,
        ``create``, ``edit``, ``delete``, ``export``, ``manage`` or a module-specific action).
        When a permission is first seen it is granted to its ``default_roles``; afterwards
        administrators own the grants (a revoked grant stays revoked). An explicit *deny* on
        any of a user's roles wins over every grant.
    """


@hookspec
def crm_notification_channels():
    """Return delivery channels for the notification bus.

    :returns: a list of :class:`crm_host.Channel`. ``send(message)`` receives a
        :class:`crm_host.contract.Message` and must raise to signal failure; the bus retries
        with exponential backoff up to ``max_attempts`` and logs every attempt. Channel
        names are unique across plugins.
    """


@hookspec
def crm_notification_kinds():
    """Declare the kinds of notification the plugin raises, with their default channels.

    :returns: a list of :class:`crm_host.NotificationKind`. Users may route each kind to the
        channels they like on their preferences page; the defaults apply until they do.
    """


@hookspec
def crm_notification_defaults(session, kind):
    """The default channels an administrator chose for ``kind`` (overriding its declaration).

    :param session: the SQLAlchemy session ``notify()`` was given.
    :param kind: the notification kind's name, e.g. ``"pipeline.urge"``.
    :returns: a ``set`` of channel names (possibly empty: no channel), or ``None`` to keep
        the kind's declared ``default_channels``. A set, not a list: collecting hooks flatten
        lists. The first non-``None`` answer wins. It applies to users who have not chosen
        their own channels for the kind.
    """


@hookspec
def crm_cli_commands():
    """Return click commands or groups to add to the ``crm`` command line.

    :returns: a list of :class:`click.Command`. Use a group named after the plugin
        (``crm customers regrade``). Commands run inside an application context.
    """


@hookspec
def crm_dashboard_widgets(user):
    """Return dashboard cards for ``user``.

    :param user: the signed-in :class:`crm_host.models.User`.
    :returns: a list of :class:`crm_host.DashboardWidget`. Widgets whose ``permission`` the user
        lacks are dropped by the host; a widget should still scope its figures to what the
        user may see (:func:`crm_host.security.scope_filter`).
    """


@hookspec
def crm_record_panels(entity, record, user):
    """Return panels for a record's detail page (the customer 360° page is one of them).

    :param entity: the entity name of the page, e.g. ``"customers.customer"``.
    :param record: the record shown (already checked against the user's scope).
    :param user: the signed-in user.
    :returns: a list of :class:`crm_host.Panel`, or nothing for entities the plugin does
        not enrich.
    """


@hookspec
def crm_search(query, user, limit):
    """Answer the global search box.

    :param query: the text typed (stripped, non-empty).
    :param user: the signed-in user; return only records within their scope.
    :param limit: the most results the host will show from this plugin.
    :returns: a list of :class:`crm_host.SearchResult`.
    """


@hookspec
def crm_scheduled_jobs():
    """Return periodic jobs for the worker loop.

    :returns: a list of :class:`crm_host.Job`. ``run(session, now)`` is called at most once per
        ``every_seconds`` across all workers (a lease in the database guarantees it); it
        commits through the session it is given. An exception is logged on the job and the
        job runs again at its next slot.
    """


@hookspec
def crm_startup(app):
    """One-time wiring, called once per process while the application is being created.

    :param app: the Flask application, before it serves its first request (the only time
        Flask accepts ``app.add_template_filter``, ``app.context_processor`` and the like).

    It runs for every *installed* plugin, enabled or not, exactly like blueprint
    registration: Flask cannot undo wiring, so keep it free of side effects on data and
    check :func:`crm_host.plugins.is_active` (or rely on the 404 gate) where it matters.
    Raising refuses the plugin in this process (it shows as broken with the traceback).
    """


@hookspec
def crm_demo_data(session, users, locale):
    """Fill a fresh instance with realistic sample data (``crm demo``).

    :param session: a SQLAlchemy session; the host commits after every plugin.
    :param users: dict of demo users by role name (``"admin"``, ``"leader"``, ``"sales"``,
        ``"sales2"``, ``"service"``, ``"staff"``) created by the host first.
    :param locale: ``"zh_Hant"``, ``"zh_Hans"`` or ``"en"``: the main language of the data.

    Called in dependency order, so a plugin can rely on its dependencies' demo data.
    """
