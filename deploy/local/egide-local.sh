# SPDX-License-Identifier: AGPL-3.0-or-later
# egide-local.sh - helpers (sourced, not run) that stand up a local Égide
# deployment on loopback: development PKI and signed directory of the 71
# example, a broker and edges with their configurations, tokens and state in
# one directory.  Used by deploy/demo.sh and the integration tests.
#
#   EGIDE_BIN   directory of egide, egide-broker, egide-edge, egide-keyd (required)
#   EL_DIR      where everything goes (required; mktemp -d)
#   EL_DEPLOY   deployment folder (default deploy/71; a copy may be edited)
#   EL_DEPT, EL_JURISDICTION   its department and profile (71, fr-casf)
#
# Every wait is bounded; el_stop_all stops what was started.

EL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EL_DEPLOY="${EL_DEPLOY:-$EL_ROOT/deploy/71}"
EL_DEPT="${EL_DEPT:-71}"
EL_JURISDICTION="${EL_JURISDICTION:-fr-casf}"
declare -gA EL_PID EL_PORT
EL_BROKER_PORT=""
EL_BROKER_API_PORT=""

el_die() { echo "egide-local: $*" >&2; return 1; }

el_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# el_setup: PKI + directory (broker on a free port) + configs for the broker
# and every node id given.
el_setup() {
    [ -n "${EL_DIR:-}" ] || el_die "EL_DIR not set" || return 1
    mkdir -p "$EL_DIR/state"
    EL_BROKER_PORT=${EL_BROKER_PORT:-$(el_free_port)} # preset: the caller lists it elsewhere too
    EL_BROKER_API_PORT=${EL_BROKER_API_PORT:-$(el_free_port)}
    EGIDE="$EGIDE_BIN/egide" "$EL_ROOT/deploy/tools/make-directory.sh" "$EL_DEPLOY" "$EL_DEPT" \
        "$EL_JURISDICTION" "$EL_DIR/pki" \
        --endpoint "tcp://127.0.0.1:$EL_BROKER_PORT" "$@" >"$EL_DIR/make-directory.log" 2>&1 ||
        { cat "$EL_DIR/make-directory.log" >&2; el_die "make-directory failed"; return 1; }
    el_write_broker_config
}

el_token() { # FILE
    umask 077
    openssl rand -hex 32 >"$1"
    chmod 600 "$1"
}

el_write_broker_config() {
    local pki="$EL_DIR/pki" st="$EL_DIR/state/broker" id
    id=$(sed -n 's/^\[\(.*\)\]$/\1/p' "$EL_DEPLOY/nodes.ini" | head -1)
    mkdir -p "$st"
    el_token "$st/api.token"
    cat >"$st/broker.ini" <<INI
[broker]
node_id = $id
endpoint = tcp://127.0.0.1:$EL_BROKER_PORT
database = $st/broker.sqlite
directory = $pki/directory.bin
directory_anchor = $pki/authority/authority.crt
ca_root = $pki/ca/root.crt
ca_chain = $pki/ca/chain.pem
crl = $pki/ca/crl.pem
sign_key = $pki/nodes/$id/sign.key
sign_cert = $pki/nodes/$id/sign.crt
curve_secret = $pki/nodes/$id/curve.secret
group_commit = ${EL_GROUP_COMMIT:-true}
retry_min_ms = ${EL_RETRY_MIN_MS:-500}
[audit]
checkpoint_entries = 64
checkpoint_seconds = 2
[api]
port = $EL_BROKER_API_PORT
token_file = $st/api.token
[log]
level = ${EL_LOG_LEVEL:-notice}
INI
    EL_BROKER_ID="$id"
}

el_write_edge_config() { # NODE_ID
    local n="$1" pki="$EL_DIR/pki" st="$EL_DIR/state/$1"
    mkdir -p "$st"
    [ -f "$st/api.token" ] || el_token "$st/api.token"
    [ -n "${EL_PORT[$n]:-}" ] || EL_PORT[$n]=$(el_free_port)
    cat >"$st/edge.ini" <<INI
[edge]
node_id = $n
database = $st/edge.sqlite
directory_anchor = $pki/authority/authority.crt
directory = $pki/directory.bin
ca_root = $pki/ca/root.crt
ca_chain = $pki/ca/chain.pem
crl = $pki/ca/crl.pem
sign_key = $pki/nodes/$n/sign.key
sign_cert = $pki/nodes/$n/sign.crt
enc_key = $pki/nodes/$n/enc.key
curve_secret = $pki/nodes/$n/curve.secret
curve_public = $pki/nodes/$n/curve.public
retry_min_ms = ${EL_RETRY_MIN_MS:-500}
retry_max_ms = ${EL_RETRY_MAX_MS:-5000}
group_commit = ${EL_EDGE_GROUP_COMMIT:-${EL_GROUP_COMMIT:-true}}
[deadlines]
profile = $EL_ROOT/deploy/profiles/fr-casf.ini
[api]
port = ${EL_PORT[$n]}
token_file = $st/api.token
[log]
level = ${EL_LOG_LEVEL:-notice}
INI
}

el_start_broker() {
    "$EGIDE_BIN/egide-broker" -c "$EL_DIR/state/broker/broker.ini" \
        >>"$EL_DIR/state/broker/broker.log" 2>&1 &
    EL_PID[broker]=$!
    el_wait_http "http://127.0.0.1:$EL_BROKER_API_PORT/v1/health" 100 ||
        { tail -20 "$EL_DIR/state/broker/broker.log" >&2; el_die "broker did not start"; return 1; }
}

el_start_edge() { # NODE_ID
    local n="$1"
    [ -f "$EL_DIR/state/$n/edge.ini" ] || el_write_edge_config "$n"
    "$EGIDE_BIN/egide-edge" -c "$EL_DIR/state/$n/edge.ini" >>"$EL_DIR/state/$n/edge.log" 2>&1 &
    EL_PID[$n]=$!
    el_wait_http "http://127.0.0.1:${EL_PORT[$n]}/v1/health" 100 ||
        { tail -20 "$EL_DIR/state/$n/edge.log" >&2; el_die "edge $n did not start"; return 1; }
}

# el_wait_http URL TRIES (0.1 s apart)
el_wait_http() {
    local i
    for ((i = 0; i < $2; i++)); do
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# el_cli NODE ARGS... : run `egide` against that node's edge API.
el_cli() {
    local n="$1"
    shift
    "$EGIDE_BIN/egide" "$@" --api "http://127.0.0.1:${EL_PORT[$n]}" \
        --token-file "$EL_DIR/state/$n/api.token"
}

# el_api NODE METHOD PATH [BODY]: raw curl to an edge API, JSON out.
el_api() {
    local n="$1" m="$2" p="$3"
    shift 3
    curl -sS --max-time 10 -X "$m" -H "Authorization: Bearer $(cat "$EL_DIR/state/$n/api.token")" \
        -H 'Content-Type: application/json' "$@" "http://127.0.0.1:${EL_PORT[$n]}$p"
}

# el_wait_until TRIES CMD... : run CMD every 0.2 s until it succeeds.
el_wait_until() {
    local tries="$1" i
    shift
    for ((i = 0; i < tries; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

el_stop() { # NAME [SIGNAL]
    local pid="${EL_PID[$1]:-}" sig="${2:-TERM}" i
    [ -n "$pid" ] || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "EL_PID[$1]"
}

el_stop_all() {
    local k
    for k in "${!EL_PID[@]}"; do
        [ "$k" = broker ] || el_stop "$k"
    done
    el_stop broker
}
