#!/usr/bin/env bash
# Installs a released scimform binary for this machine, after checking it against the
# release's SHA256SUMS. Used by the action (action.yml); runs anywhere with bash, curl, tar and
# sha256sum (or shasum).
#
#   SCIMFORM_VERSION       the release tag, e.g. v0.2.0 (required)
#   SCIMFORM_REPOSITORY    owner/name of the repository whose releases to use (default: the
#                          action's own, GITHUB_ACTION_REPOSITORY)
#   SCIMFORM_RELEASES_URL  where release assets are downloaded from (default:
#                          https://github.com/$SCIMFORM_REPOSITORY/releases/download)
#   SCIMFORM_INSTALL_DIR   where the binary goes (default: $RUNNER_TEMP/scimform/bin, or
#                          ~/.local/bin outside GitHub Actions); added to GITHUB_PATH if set
#   SCIMFORM_BUILD_FROM    a source checkout to `cargo install` from when no release binary
#                          exists for this machine or version (default: none, which fails)
set -euo pipefail

fail() {
  echo "error: $*" >&2
  exit 1
}

version="${SCIMFORM_VERSION:-}"
[ -n "$version" ] || fail "SCIMFORM_VERSION is not set: name a release tag, e.g. v0.2.0"
repository="${SCIMFORM_REPOSITORY:-${GITHUB_ACTION_REPOSITORY:-}}"
releases="${SCIMFORM_RELEASES_URL:-}"
if [ -z "$releases" ]; then
  [ -n "$repository" ] || fail "SCIMFORM_REPOSITORY is not set: name the repository (owner/name)"
  releases="https://github.com/$repository/releases/download"
fi
if [ -n "${SCIMFORM_INSTALL_DIR:-}" ]; then
  bin_dir="$SCIMFORM_INSTALL_DIR"
elif [ -n "${RUNNER_TEMP:-}" ]; then
  bin_dir="$RUNNER_TEMP/scimform/bin"
else
  bin_dir="$HOME/.local/bin"
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  MINGW* | MSYS* | CYGWIN*) target=x86_64-pc-windows-msvc ;;
  *) target="" ;;
esac

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

build_from_source() {
  local why="$1"
  [ -n "${SCIMFORM_BUILD_FROM:-}" ] || fail "$why"
  echo "$why; building scimform from $SCIMFORM_BUILD_FROM instead" >&2
  cargo install --locked --root "$work/built" --path "$SCIMFORM_BUILD_FROM" scimform
  mkdir -p "$bin_dir"
  install -m 0755 "$work/built/bin/scimform"* "$bin_dir/"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -z "$target" ]; then
  build_from_source "no scimform release is built for $(uname -s) $(uname -m)"
else
  case "$target" in
    *windows*) archive="scimform-$version-$target.zip" ;;
    *) archive="scimform-$version-$target.tar.gz" ;;
  esac
  if ! curl --fail --silent --show-error --location --retry 3 \
    --output "$work/SHA256SUMS" "$releases/$version/SHA256SUMS" ||
    ! curl --fail --silent --show-error --location --retry 3 \
      --output "$work/$archive" "$releases/$version/$archive"; then
    build_from_source "release $version has no $archive at $releases"
  else
    expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
    [ -n "$expected" ] || fail "SHA256SUMS of release $version does not list $archive"
    actual="$(sha256 "$work/$archive")"
    [ "$expected" = "$actual" ] ||
      fail "$archive does not match SHA256SUMS of release $version (expected $expected, got $actual); nothing was installed"
    mkdir -p "$work/unpacked" "$bin_dir"
    case "$archive" in
      *.zip) unzip -q "$work/$archive" -d "$work/unpacked" ;;
      *) tar -xzf "$work/$archive" -C "$work/unpacked" ;;
    esac
    binary="$(find "$work/unpacked" -type f \( -name scimform -o -name scimform.exe \) | head -n 1)"
    [ -n "$binary" ] || fail "$archive holds no scimform binary"
    install -m 0755 "$binary" "$bin_dir/"
  fi
fi

if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$bin_dir" >>"$GITHUB_PATH"
fi
"$bin_dir/scimform" --version
