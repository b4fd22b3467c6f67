#!/bin/sh
# Refresh the host's translation catalogs (en, zh_Hant, zh_Hans).
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
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
cd "$ROOT"

DIR=crm_host/translations
POT=$DIR/messages.pot
LOCALES="en zh_Hant zh_Hans"

mkdir -p "$DIR"

# node_modules and friends are skipped: only crm_host/ matches babel.cfg anyway.
pybabel extract -F babel.cfg -k _l -k lazy_gettext \
    -o "$POT" --no-location --sort-output \
    --project crm-host --ignore-dirs '.* ._ node_modules test-artifacts' .

for loc in $LOCALES; do
    if [ -f "$DIR/$loc/LC_MESSAGES/messages.po" ]; then
        # Keeps every existing translation; edited msgids come back "#, fuzzy"
        # with the old translation and the previous msgid (#|) to review.
        pybabel update -i "$POT" -d "$DIR" -l "$loc" --previous --ignore-obsolete
    else
        pybabel init -i "$POT" -d "$DIR" -l "$loc"
    fi
done

pybabel compile -d "$DIR" --statistics
