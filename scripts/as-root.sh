# Sourced by the install scripts: sets as_root to "" (root), "sudo" (password-less sudo) or "none".
if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root="sudo"
else
  as_root="none"
fi
