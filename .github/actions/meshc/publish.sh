#!/usr/bin/env bash
# Publish a rendered directory as the whole tree of a branch, for an Argo CD
# Application that syncs that branch. One commit per change, naming the source
# commit; nothing is pushed when the tree is unchanged.
#   MESHC_TOKEN=... publish.sh DIR BRANCH
# The remote is this repository on GitHub (MESHC_PUBLISH_REMOTE overrides it).
set -euo pipefail

dir="$(cd "$1" && pwd)"
branch="$2"
remote="${MESHC_PUBLISH_REMOTE:-${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:?}.git}"
source_commit="${GITHUB_REPOSITORY:-local}@${GITHUB_SHA:-unknown}"

auth=()
if [ -n "${MESHC_TOKEN:-}" ]; then
    # As actions/checkout does: a header, so the token is never part of a URL or a log.
    basic="$(printf 'x-access-token:%s' "$MESHC_TOKEN" | base64 | tr -d '\n')"
    echo "::add-mask::$basic"
    auth=(-c "http.extraheader=AUTHORIZATION: basic $basic")
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GIT_DIR="$work/repo.git" GIT_INDEX_FILE="$work/index"
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-github-actions[bot]}"
export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git init -q --bare "$GIT_DIR"
export GIT_WORK_TREE="$dir"

parent=""
if git "${auth[@]}" ls-remote --exit-code "$remote" "refs/heads/$branch" > /dev/null; then
    git "${auth[@]}" fetch -q --depth=1 "$remote" "refs/heads/$branch"
    parent="$(git rev-parse FETCH_HEAD)"
else
    status=$?
    # 2: the branch does not exist yet; anything else is a failure to reach the remote.
    [ "$status" -eq 2 ] || exit "$status"
fi

(cd "$dir" && git add -A .)
tree="$(git write-tree)"
if [ -n "$parent" ] && [ "$(git rev-parse "$parent^{tree}")" = "$tree" ]; then
    echo "$branch: already up to date"
    exit 0
fi
commit="$(git commit-tree "$tree" ${parent:+-p "$parent"} -m "Rendered by meshc from $source_commit")"
git "${auth[@]}" push -q "$remote" "$commit:refs/heads/$branch"
echo "$branch: published $commit"
