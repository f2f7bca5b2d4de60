#!/usr/bin/env bash
# The drift gate: the committed rendered directory must be exactly what the
# spec renders to. Each file that differs gets an error annotation of its own.
#   SPEC=mesh.yaml OUTPUT=rendered [RENDER_ARGS=...] drift.sh
set -uo pipefail

# shellcheck disable=SC2086 # RENDER_ARGS is a list of options
report="$(meshc render --spec "$SPEC" -o "$OUTPUT" --check ${RENDER_ARGS:-} 2>&1)"
status=$?
printf '%s\n' "$report"
[ "$status" -eq 1 ] || exit "$status"

command="meshc render --spec $SPEC -o $OUTPUT${RENDER_ARGS:+ $RENDER_ARGS}"
pattern='^(.+): (changed|missing|stale): ([^ ]+)'
while IFS= read -r line; do
    if [[ $line =~ $pattern ]]; then
        file="${BASH_REMATCH[1]}/${BASH_REMATCH[3]}"
        case "${BASH_REMATCH[2]}" in
            changed) what="differs from what $SPEC renders" ;;
            missing) what="is rendered from $SPEC but not committed" ;;
            stale) what="is no longer rendered from $SPEC" ;;
        esac
        echo "::error file=$file,title=meshc drift::$file $what: run \`$command\` and commit the result"
    fi
done <<< "$report"
exit 1
