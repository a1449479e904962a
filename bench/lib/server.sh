# shellcheck shell=bash
# Sourced by the benchmark scripts that start `medalliance serve --listen 127.0.0.1:0` in the
# background with its stdout in a file.
#
# wait_for_port LOG PID [SECONDS]: prints the port once LOG has the server's
# "listening on <address>:<port>" line; fails, showing LOG (and ERR_LOG if set), when the
# process PID exits first or nothing comes within SECONDS (default 600: a large database's
# start-up loads indexes).
wait_for_port() {
  local log="$1" pid="$2" seconds="${3:-600}" port="" i
  for ((i = 0; i < seconds * 10; i++)); do
    # (LOG may not exist yet: the background command's redirection has not run.)
    port=$(sed -nE 's/^listening on [0-9.]+:([0-9]+)$/\1/p' "$log" 2> /dev/null)
    if [[ -n "$port" ]]; then
      echo "$port"
      return 0
    fi
    if ! kill -0 "$pid" 2> /dev/null; then
      echo "the server exited before listening:" >&2
      cat "$log" ${ERR_LOG:+"$ERR_LOG"} >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server did not report its port within ${seconds} s" >&2
  cat "$log" ${ERR_LOG:+"$ERR_LOG"} >&2
  return 1
}
