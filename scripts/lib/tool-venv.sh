# Sourced by the install scripts of test tools that live in a venv of their own
# (their pins need not agree with tgictl's), cached in the tools directory.
#   tool_venv NAME VERSION ENTRY [--cached]   with install_into VENV defined by the caller
# prints VENV/bin/ENTRY, installing first unless it is cached; with --cached it
# only reports (exit 1 when not installed: tests skip, or in CI fail).
tool_venv() {
  local name=$1 version=$2 entry=$3 mode=${4:-}
  local cache="${TGICTL_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tgictl/bin}"
  local venv="$cache/$name-$version"
  if [ -f "$venv/.complete" ]; then
    echo "$venv/bin/$entry"
    return 0
  fi
  [ "$mode" = --cached ] && return 1
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  install_into "$venv" >&2
  touch "$venv/.complete"  # an interrupted install is redone, never half-used
  echo "$venv/bin/$entry"
}
