#!/bin/sh
# Entry point of the Ferrodis image, after the official redis image's:
#   docker run ferrodis                          -> ferrodis-server --protected-mode no
#   docker run ferrodis --appendonly yes         -> ferrodis-server --protected-mode no --appendonly yes
#   docker run ferrodis /etc/ferrodis.conf ...   -> ferrodis-server /etc/ferrodis.conf --protected-mode no ...
#   docker run ferrodis ferrodis-server ...      -> the same, with --protected-mode no added
#   docker run ferrodis sh                       -> sh (anything else runs as given)
# Protected mode is off as in the official image (which builds Redis with it off): a
# container's port is only reachable when it is published explicitly. The server binds
# every interface (the default bind, "* -::*"). Options given later on the command line
# win, so `--protected-mode yes` turns it back on.
set -e

# First argument an option (-x/--x) or a config file: run the server with them.
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
    set -- ferrodis-server "$@"
fi

if [ "$1" = 'ferrodis-server' ]; then
    shift
    # A config file must stay the first argument.
    if [ -n "$1" ] && [ "${1#-}" = "$1" ]; then
        conf=$1
        shift
        set -- ferrodis-server "$conf" --protected-mode no "$@"
    else
        set -- ferrodis-server --protected-mode no "$@"
    fi
fi

exec "$@"
