#!/bin/sh
# Refresh the translation catalogs (en, zh_Hant, zh_Hans) of the host and of every plugin
# under plugins/ that has a babel.cfg.
#
# Usage: run after changing user-visible strings (gettext _() / lazy_gettext _l()
# in crm_host/*.py, {{ _('...') }} / {% trans %} in crm_host/templates/):
#
#     sh scripts/i18n.sh        (or: make i18n)
#
# It extracts messages.pot, merges it into each locale's messages.po with
# `pybabel update` (existing translations are kept; brand-new locales are
# created with `pybabel init`), then compiles the .mo files. Afterwards,
# translate the new (empty or "#, fuzzy") entries in
# crm_host/translations/<locale>/LC_MESSAGES/messages.po, remove the fuzzy
# flags, and run this script again to recompile. Commit both .po and .mo.
#
# All catalogs end up in ONE gettext domain: an English text must mean the same thing, and be
# translated the same way, in every module (tests/test_translations.py checks this). When the
# meanings differ, use a more specific English text or pgettext(context, text) /
# {{ pgettext('context', 'text') }}; Babel extracts pgettext (msgctxt) by default.
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

DIR=crm_host/translations
POT=$DIR/messages.pot
LOCALES="en zh_Hant zh_Hans"

# catalog <source dir> <translations dir> <project> <babel.cfg>
catalog() {
    src=$1; dir=$2; project=$3; cfg=$4
    mkdir -p "$dir"
    pybabel extract -F "$cfg" -k _l -k lazy_gettext \
        -o "$dir/messages.pot" --no-location --sort-output \
        --project "$project" --ignore-dirs '.* ._ node_modules test-artifacts tests' "$src"
    for loc in $LOCALES; do
        if [ -f "$dir/$loc/LC_MESSAGES/messages.po" ]; then
            # Keeps every existing translation; edited msgids come back "#, fuzzy"
            # with the old translation and the previous msgid (#|) to review.
            pybabel update -i "$dir/messages.pot" -d "$dir" -l "$loc" --previous --ignore-obsolete
        else
            pybabel init -i "$dir/messages.pot" -d "$dir" -l "$loc"
        fi
    done
    pybabel compile -d "$dir" --statistics
}

catalog . "$DIR" crm-host babel.cfg

# Each plugin keeps its own catalog in crm_<name>/translations (the host loads them all).
for cfg in plugins/*/babel.cfg; do
    [ -f "$cfg" ] || continue
    plugin_dir=$(dirname "$cfg")
    pkg=$(basename "$plugin_dir")
    (cd "$plugin_dir" && catalog . "crm_$pkg/translations" "crm-$pkg" babel.cfg)
done
