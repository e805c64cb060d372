#!/bin/sh
# deploy_check.sh - every config and command line in deploy/ passes --check-config; YAML parses.
# SPDX-License-Identifier: MPL-2.0
#
# Run by make check (POSIX sh; BUILD in the environment, binaries in $BUILD/bin).
#   1. every *.conf under deploy/ through the --check-config of every service
#      that has sections in it (colo-control, colo-redirector, colo-mirror,
#      colo-compare, colo-rewriter);
#   2. every command line of the systemd units (ExecStart*), compose.yaml
#      (command, healthcheck) and the Kubernetes manifests (command, probes),
#      with its --config mapped to the repository's file, run with
#      --check-config; coloctl commands (healthcheck, probe) run against a
#      test colo-control with CURVE, and the rule-seeding script twice;
#   3. every YAML file of the repository parsed, every document (PyYAML);
#   4. capabilities only where packet: ports are; the image's runtime
#      packages provide every library the binaries need; the systemd units
#      pass systemd-analyze verify (when installed).
# Paths under /etc/colonet, /usr/local/libexec/colonet and /var/lib/colonet
# are mapped into a scratch root holding real CURVE certificates and a hook.
set -u
BUILD=${BUILD:-build}
ROOT_DIR=${DEPLOY_CHECK_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
DEPLOY=$ROOT_DIR/deploy
case $BUILD in /*) BIN=$BUILD/bin ;; *) BIN=$ROOT_DIR/$BUILD/bin ;; esac
PASSED=0
FAILED=0
T=""
CTL_PID=""

cleanup() {
    rc=$?
    if [ -n "$CTL_PID" ]; then
        kill "$CTL_PID" 2>/dev/null
        wait "$CTL_PID" 2>/dev/null
    fi
    [ -n "$T" ] && rm -rf "$T"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() { echo "ok   $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }

for b in colo-control colo-redirector colo-mirror colo-compare colo-rewriter coloctl; do
    if [ ! -x "$BIN/$b" ]; then
        echo "deploy_check: $BIN/$b not built (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
PY=""
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
    echo "deploy_check: no python3 with PyYAML (sh scripts/deps.sh installs python3-yaml)"
    echo "0 passed, 1 failed"
    exit 1
fi

T=$(mktemp -d /tmp/colonet-deploy.XXXXXX)
R=$T/root

# ---------------------------------------------------------------- scratch root
mkdir -p "$R/etc/colonet/curve/clients" "$R/etc/colonet/keys/peers" \
    "$R/usr/local/libexec/colonet" "$R/var/lib/colonet" "$T/conf" || exit 1
keygen() { "$BIN/coloctl" keygen "$1" >/dev/null || { echo "deploy_check: keygen $1 failed"; exit 1; }; }
keygen "$R/etc/colonet/curve/server"
keygen "$R/etc/colonet/curve/probe"
keygen "$R/etc/colonet/keys/host"
cp "$R/etc/colonet/curve/server" "$R/etc/colonet/keys/control"
cp "$R/etc/colonet/curve/probe" "$R/etc/colonet/curve/clients/probe"
cp "$R/etc/colonet/keys/host" "$R/etc/colonet/curve/clients/host"
printf '#!/bin/sh\nexit 0\n' >"$R/usr/local/libexec/colonet/checkpoint-hook"
chmod 755 "$R/usr/local/libexec/colonet/checkpoint-hook"

# A deploy file with its absolute paths moved into the scratch root (same
# lines, so errors still name the right line).  Prints the new path.
map_file() {
    out=$T/conf/$(echo "${1#"$DEPLOY"/}" | tr / _)
    sed -e "s#/etc/colonet/#$R/etc/colonet/#g" \
        -e "s#/usr/local/libexec/colonet/#$R/usr/local/libexec/colonet/#g" \
        -e "s#/var/lib/colonet/#$R/var/lib/colonet/#g" "$1" >"$out"
    echo "$out"
}

# run_check LABEL CMD...: exit 0 and nothing on stderr.
run_check() {
    label=$1
    shift
    if "$@" >"$T/out" 2>"$T/err" && [ ! -s "$T/err" ] && [ ! -s "$T/out" ]; then
        ok "$label"
    else
        fail "$label: $(head -c 300 "$T/err" "$T/out" | tr '\n' ' ')"
    fi
}

# ---------------------------------------------------------------- 1. configs
confs=$(find "$DEPLOY" -name '*.conf' -type f | LC_ALL=C sort)
for c in $confs; do
    grep -q '^\[[a-z]* [^]]*\]' "$c" || continue   # not a colonet config (a systemd drop-in)
    m=$(map_file "$c")
    n=0
    for kind in control redirector mirror compare rewriter; do
        grep -q "^\[$kind " "$m" || continue
        n=$((n + 1))
        run_check "config ${c#"$ROOT_DIR"/}: colo-$kind --check-config" \
            "$BIN/colo-$kind" --config "$m" --check-config
    done
    if [ "$n" -eq 0 ]; then fail "config ${c#"$ROOT_DIR"/}: no section of any service"; fi
done

# ---------------------------------------------------------------- 2. command lines
"$PY" - "$DEPLOY" "$T/cmds" <<'PY' || fail "extracting command lines"
import glob, json, os, re, sys, yaml
deploy, out = sys.argv[1], sys.argv[2]
KINDS = {"colo-control": "control", "colo-redirector": "redirector", "colo-mirror": "mirror",
         "colo-compare": "compare", "colo-rewriter": "rewriter"}
BINDIRS = ("", "/usr/local/bin/", "/usr/local/lib/colonet/netraw/")
example = sorted(glob.glob(os.path.join(deploy, "example", "*.conf")))
k8sconf = sorted(glob.glob(os.path.join(deploy, "k8s", "config", "*.conf")))
# Where a config path inside a unit, container or pod comes from.
CONFIG_MAP = {
    "/etc/colonet/%i.conf": example,               # systemd template instance
    "/etc/colonet/host.conf": example,             # compose: ${COLONET_CONFIG}
    "/etc/colonet/hosts/$(NODE_NAME).conf": k8sconf,   # DaemonSets
    "/etc/colonet/control/control.conf": [os.path.join(deploy, "k8s", "config", "control.conf")],
}
records = []   # [label, kind-or-"coloctl"/"error", ...]

def sections(path):
    return set(re.findall(r"^\[(\w+) ", open(path).read(), re.M))

def packet_kinds(path):
    kinds, cur = set(), None
    for line in open(path):
        m = re.match(r"^\[(\w+) ", line)
        if m:
            cur = m.group(1)
        elif cur and re.match(r"^\s*[\w-]+\s*=\s*packet:", line):
            kinds.add(cur)
    return kinds

def add(label, argv, caps=None):
    prog = argv[0].lstrip("-@+!:")
    base = os.path.basename(prog)
    if prog not in [d + base for d in BINDIRS]:
        records.append([label, "error", "binary path %s is not one the image or units install" % prog])
        return
    if base == "coloctl":
        records.append([label, "coloctl"] + argv[1:])
        return
    if base not in KINDS:
        return
    kind = KINDS[base]
    args = argv[1:]
    if "--config" not in args:
        records.append([label, "error", "no --config"])
        return
    i = args.index("--config") + 1
    cands = [c for c in CONFIG_MAP.get(args[i], []) if kind in sections(c)]
    if args[i] not in CONFIG_MAP:
        records.append([label, "error", "config path %s is not mapped in deploy_check.sh" % args[i]])
        return
    if not cands:
        records.append([label, "error", "no config for %s has [%s] sections" % (args[i], kind)])
        return
    for c in cands:
        a = list(args)
        a[i] = c
        if "--check-config" not in a:
            a.append("--check-config")
        records.append(["%s [%s]" % (label, os.path.relpath(c, deploy)), kind] + a)
        if caps is not None:
            need = kind in packet_kinds(c)
            has = {"NET_RAW", "NET_ADMIN"} <= set(caps)
            if need and not has:
                records.append([label, "error", "%s has packet: ports but no NET_RAW/NET_ADMIN" % c])
    if caps is not None and caps and not any(kind in packet_kinds(c) for c in cands):
        records.append([label, "error", "capabilities %s without packet: ports" % caps])
    if caps is not None and bool(caps) != ("/netraw/" in prog):
        if "check-config" not in " ".join(args):
            records.append([label, "error", "cap_add and the netraw binary go together"])

# systemd units
for unit in sorted(glob.glob(os.path.join(deploy, "systemd", "*.service"))):
    for n, line in enumerate(open(unit), 1):
        m = re.match(r"^(Exec\w*)=(.*)$", line.strip())
        if m:
            add("%s:%d %s" % (os.path.relpath(unit, deploy), n, m.group(1)), m.group(2).split())

def listify(cmd):
    return cmd.split() if isinstance(cmd, str) else [str(x) for x in cmd]

# compose
cf = os.path.join(deploy, "compose.yaml")
if os.path.exists(cf):
    doc = yaml.safe_load(open(cf))
    for name, svc in doc.get("services", {}).items():
        caps = [c.upper() for c in svc.get("cap_add", [])]
        if "command" in svc:
            add("compose %s command" % name, listify(svc["command"]), caps)
        hc = svc.get("healthcheck", {}).get("test")
        if hc:
            hc = listify(hc)
            if hc[0] in ("CMD", "CMD-SHELL"):
                hc = hc[1:]
            add("compose %s healthcheck" % name, hc)

# Kubernetes
def containers(obj):
    spec = obj.get("spec", {})
    tpl = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or {}
    return tpl.get("containers", []) + tpl.get("initContainers", [])
for f in sorted(glob.glob(os.path.join(deploy, "k8s", "*.yaml"))):
    for obj in yaml.safe_load_all(open(f)):
        if not isinstance(obj, dict):
            continue
        for c in containers(obj):
            label = "%s %s/%s" % (os.path.relpath(f, deploy), obj["metadata"]["name"], c["name"])
            caps = c.get("securityContext", {}).get("capabilities", {}).get("add", [])
            if "command" in c:
                add(label + " command", listify(c["command"]) + listify(c.get("args", [])), caps)
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                ex = c.get(probe, {}).get("exec")
                if ex:
                    add("%s %s" % (label, probe), listify(ex["command"]))
with open(out, "w") as fh:
    for r in records:
        fh.write("\x1f".join(r) + "\n")
PY

US=$(printf '\037')
set -f
ncmd=0
while IFS= read -r line; do
    IFS=$US
    # shellcheck disable=SC2086
    set -- $line
    IFS=' 	
'
    label=$1
    what=$2
    shift 2
    ncmd=$((ncmd + 1))
    case $what in
        error) fail "$label: $*" ;;
        coloctl) echo "$label$US$*" >>"$T/coloctl" ;;
        *)
            # The mapped config, then the command as written.
            args=""
            for a in "$@"; do
                case $a in "$DEPLOY"/*) a=$(map_file "$a") ;; esac
                args="$args$US$a"
            done
            IFS=$US
            # shellcheck disable=SC2086
            set -- ${args#"$US"}
            IFS=' 	
'
            run_check "command $label" "$BIN/colo-$what" "$@"
            ;;
    esac
done <"$T/cmds"
set +f
if [ "$ncmd" -ge 10 ]; then ok "found $ncmd command lines in deploy/"; else fail "only $ncmd command lines found in deploy/"; fi

# The checker is not vacuous: a flag typo and an unknown key fail.
if "$BIN/colo-compare" --config "$(map_file "$DEPLOY/example/host.conf")" --chek-config \
    >/dev/null 2>&1; then
    fail "a misspelt flag is caught"
else
    ok "a misspelt flag is caught"
fi
sed 's/^compare-timeout =/compare-timout =/' "$(map_file "$DEPLOY/example/host.conf")" >"$T/bad.conf"
if "$BIN/colo-compare" --config "$T/bad.conf" --check-config 2>"$T/err" \
    || ! grep -q "bad.conf:[0-9]*: .*compare-timout" "$T/err"; then
    fail "a misspelt key is caught with its line"
else
    ok "a misspelt key is caught with its line"
fi

# ---------------------------------------------------------------- coloctl lines
# A test colo-control with the scratch root's CURVE keys, on a free port.
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
eport=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN/colo-control" --store "$T/store" --api "tcp://127.0.0.1:$port" \
    --events "tcp://127.0.0.1:$eport" --curve-keys "$R/etc/colonet/curve" >"$T/control.log" 2>&1 &
CTL_PID=$!
CURVE_PROBE="curve-server=$R/etc/colonet/curve/server,curve-secret=$R/etc/colonet/curve/probe"
n=0
until "$BIN/coloctl" --control "tcp://127.0.0.1:$port,$CURVE_PROBE" --timeout 500 status \
    >/dev/null 2>&1; do
    n=$((n + 1))
    if [ "$n" -ge 40 ] || ! kill -0 "$CTL_PID" 2>/dev/null; then break; fi
done
if [ "$n" -lt 40 ] && kill -0 "$CTL_PID" 2>/dev/null; then
    ok "test colo-control answers over CURVE"
else
    fail "test colo-control answers over CURVE: $(tail -3 "$T/control.log" | tr '\n' ' ')"
fi
if [ -s "$T/coloctl" ]; then
    set -f
    while IFS= read -r line; do
        label=${line%%"$US"*}
        args=${line#*"$US"}
        # Point --control at the test service, keep its CURVE options.
        # shellcheck disable=SC2086
        set -- $args
        new=""
        prev=""
        for a in "$@"; do
            if [ "$prev" = "--control" ]; then
                a="tcp://127.0.0.1:$port,${a#*,}"
                a=$(echo "$a" | sed -e "s#/etc/colonet/#$R/etc/colonet/#g")
            fi
            new="$new$US$a"
            prev=$a
        done
        IFS=$US
        # shellcheck disable=SC2086
        set -- ${new#"$US"}
        IFS=' 	
'
        if "$BIN/coloctl" "$@" >"$T/out" 2>"$T/err"; then
            ok "command $label (against a test colo-control)"
        else
            fail "command $label: $(head -c 300 "$T/err" | tr '\n' ' ')"
        fi
    done <"$T/coloctl"
    set +f
else
    fail "no coloctl health check or probe found"
fi
# The seed script, twice: the second run finds every rule present.
seed=$DEPLOY/k8s/config/seed-rules.sh
if [ -f "$seed" ]; then
    export COLO_CONTROL="tcp://127.0.0.1:$port,$CURVE_PROBE"
    if PATH=$BIN:$PATH sh "$seed" >"$T/seed1" 2>&1 && PATH=$BIN:$PATH sh "$seed" >"$T/seed2" 2>&1 \
        && ! grep -q added "$T/seed2" && grep -q added "$T/seed1"; then
        ok "seed-rules.sh adds the rules, and again finds them present"
    else
        fail "seed-rules.sh: $(cat "$T/seed1" "$T/seed2" | tr '\n' ' ' | head -c 400)"
    fi
    nrules=$(grep -c '^seed ' "$seed")
    nlisted=$("$BIN/coloctl" --json passthrough list | grep -o '"id":' | wc -l)
    if [ "$nrules" -eq "$nlisted" ]; then
        ok "the store holds the $nrules seeded rules"
    else
        fail "the store holds $nlisted rules, the script seeds $nrules"
    fi
    unset COLO_CONTROL
fi

# ---------------------------------------------------------------- 3. YAML
nyaml=0
for y in $(cd "$ROOT_DIR" && find . \( -name '.git' -o -name 'build*' \) -prune -o \
    \( -name '*.yaml' -o -name '*.yml' \) -type f -print | LC_ALL=C sort); do
    nyaml=$((nyaml + 1))
    if "$PY" -c 'import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
assert any(d is not None for d in docs), "no document"' "$ROOT_DIR/$y" 2>"$T/err"; then
        ok "yaml $y"
    else
        fail "yaml $y: $(tail -3 "$T/err" | tr '\n' ' ')"
    fi
done
[ "$nyaml" -gt 0 ] || fail "no YAML files found"
printf 'a: [1, 2\nb: 3\n' >"$T/bad.yaml"
if "$PY" -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$T/bad.yaml" \
    2>/dev/null; then
    fail "a broken YAML file is caught"
else
    ok "a broken YAML file is caught"
fi

# ---------------------------------------------------------------- 4. image, units
df=$DEPLOY/Dockerfile
runtime=$(awk '/^FROM/ {stage++} stage == 2' "$df")
for b in "$BIN"/*; do
    name=$(basename "$b")
    if grep -q "/build/bin/$name\b" "$df"; then ok "Dockerfile builds $name"; else fail "Dockerfile does not build $name"; fi
done
if command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    missing=""
    for lib in $(for b in "$BIN"/*; do readelf -d "$b"; done \
        | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | LC_ALL=C sort -u); do
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
        pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
        [ -n "$pkg" ] || pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
        #  A SANITIZE= build links the sanitizer runtimes; the image never does.
        case $pkg in libc6 | "" | libasan* | libubsan* | liblsan* | libtsan*) continue ;; esac
        echo "$runtime" | grep -qw "$pkg" || missing="$missing $lib($pkg)"
    done
    if [ -z "$missing" ]; then
        ok "the runtime stage installs every library the binaries need"
    else
        fail "the runtime stage lacks:$missing"
    fi
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$T/units"
    for u in "$DEPLOY"/systemd/*.service "$DEPLOY"/systemd/*.target; do
        [ -f "$u" ] || continue
        sed "s#/usr/local/bin/#$BIN/#g" "$u" >"$T/units/$(basename "$u")"
    done
    for u in "$T"/units/*@.service; do
        inst=$(basename "$u" | sed 's/@\.service$/@host.service/')
        run_check "systemd-analyze verify $(basename "$u")" \
            systemd-analyze verify --man=no "$T/units/$inst"
        if [ -f "$DEPLOY/systemd/packet-ports.conf" ]; then
            # The drop-in's [Service] lines, as if merged into the unit.
            x=$T/units/x-$(basename "$u")
            cat "$u" "$DEPLOY/systemd/packet-ports.conf" >"$x"
            run_check "systemd-analyze verify $(basename "$u") + packet-ports.conf" \
                systemd-analyze verify --man=no "$(echo "$x" | sed 's/@\.service$/@host.service/')"
        fi
    done
else
    echo "skip systemd-analyze verify: not installed"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
