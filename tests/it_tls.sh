#!/bin/sh
# it_tls.sh: sdq over HTTPS and HTTP/2, the way RunPod's API is served.
#
# tests/emulator.py speaks plain HTTP/1.1; here nghttpx (Debian's
# nghttp2-proxy) stands in front of it on 127.0.0.1 with TLS and HTTP/2,
# using a certificate made for this run (openssl), and logs for every
# request the protocol it came over and whether its TLS session was resumed.
#
#   - A certificate sdq cannot verify: the job is not sent (the emulator gets
#     no /run), it ends SUBMIT_FAILED, and its error names the certificate
#     problem and says what to do (SSL_CERT_FILE).
#   - With SSL_CERT_FILE naming the certificate: a batch of jobs is sent and
#     followed to COMPLETED with its images on disk; every request went over
#     HTTP/2; the status long-polls shared connections (fewer connections
#     than requests); and /run connections, each a fresh one (a /run is never
#     re-sent by libcurl on a reused connection), resume the TLS session of
#     an earlier one instead of a full handshake.
#
# Every wait is bounded; no timing is asserted.
# Last line: "it_tls: N passed, N failed".
set -u
. "${SDQ_TESTS_DIR:-$PWD/tests}/th.sh"
th_init it_tls
th_copy_sdq
KEY=test-key-tls-1
ngx_pid=
th_cleanup_more() {
	[ -n "$ngx_pid" ] && kill "$ngx_pid" 2>/dev/null
}

for prog in nghttpx openssl; do
	if ! command -v $prog >/dev/null 2>&1; then
		bad "$prog is needed (apt-get install nghttp2-proxy openssl)"
		th_end
		exit 1
	fi
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
check "a certificate for localhost is made" test -s "$tmp/cert.pem"

th_emu emu --steps 3 --workers 100 --idle-exit 120 --max-lifetime 300 --quiet
check "the emulator started" test -n "$PORT"
# a free port for nghttpx (it cannot be told to take any)
FPORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nghttpx -f"127.0.0.1,$FPORT" -b"127.0.0.1,$PORT" -n1 --no-via --no-ocsp \
	--frontend-http2-max-concurrent-streams=100 -L WARN --errorlog-file="$tmp/ngx.err" \
	--accesslog-file="$tmp/access.log" \
	--accesslog-format='$alpn $tls_session_reused $method $path $status $remote_port' \
	"$tmp/key.pem" "$tmp/cert.pem" --conf=/dev/null 2>>"$tmp/ngx.err" &
ngx_pid=$!
front_up() { curl -s -o /dev/null --cacert "$tmp/cert.pem" "https://localhost:$FPORT/"; }
check "nghttpx answers over TLS" wait_for front_up

printf '[core]\n\tbackground_driver = false\n' >"$tmp/config"
export SDQ_CONFIG="$tmp/config" RUNPOD_API_KEY=$KEY \
	SDQ_ENDPOINT="https://localhost:$FPORT/v2/test" TERM=dumb
unset SSL_CERT_FILE CURL_CA_BUNDLE
runs() { emu_stats "$PORT" 'j["ops"]["run"]'; }

# 1. a certificate nobody vouches for: nothing is sent
D1="$tmp/untrusted"
th_data_dirs="$th_data_dirs $D1"
SDQ_DATA_DIR=$D1 "$SDQ" submit -p "untrusted [[queue=0.2 run=0.3]]" >/dev/null
SDQ_DATA_DIR=$D1 timeout 60 "$SDQ" driver --linger 0 2>"$tmp/d1.log"
SDQ_DATA_DIR=$D1 "$SDQ" show 1 --json >"$tmp/j1.json" 2>/dev/null
check "an unverified certificate: the job ends SUBMIT_FAILED" \
	jcheck "$tmp/j1.json" 'j["state"] == "SUBMIT_FAILED"'
check "its error names the certificate problem" \
	jcheck "$tmp/j1.json" '"certificate" in (j.get("error") or "")'
check "its error says what to do (SSL_CERT_FILE)" \
	jcheck "$tmp/j1.json" '"SSL_CERT_FILE" in (j.get("error") or "")'
check "the emulator got no /run" test "$(runs)" = 0

# 2. SSL_CERT_FILE names the certificate: a batch goes over HTTP/2
D2="$tmp/trusted"
th_data_dirs="$th_data_dirs $D2"
n=12
i=1
while [ $i -le $n ]; do
	SDQ_DATA_DIR=$D2 "$SDQ" submit -p "tls $i [[queue=0.$((i % 5 + 2)) run=0.$((i % 4 + 3))]]" \
		>/dev/null
	i=$((i + 1))
done
SSL_CERT_FILE="$tmp/cert.pem" SDQ_DATA_DIR=$D2 timeout 120 "$SDQ" driver --linger 0 \
	2>"$tmp/d2.log"
SDQ_DATA_DIR=$D2 "$SDQ" ls --all --json >"$tmp/ls2.json" 2>/dev/null
check "all $n jobs COMPLETED over TLS" \
	jcheck "$tmp/ls2.json" "sum(1 for x in j if x['state'] == 'COMPLETED') == $n"
check "each with its image on disk" \
	jcheck "$tmp/ls2.json" "all(x['images'] and __import__('os').path.getsize(x['images'][0]) > 0 for x in j)"
check "the emulator got $n /run" test "$(runs)" = $n
# the access log: one line per request, "alpn reused method path status port"
alog() { $PY -c 'import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))' "$tmp/access.log" "$1"; }
check "every request went over HTTP/2" \
	test "$(alog 'all(r[0] == "h2" for r in rows) and len(rows) > 0')" = True
check "the job status was asked by long-poll (status-sync)" \
	test "$(alog 'sum(1 for r in rows if "/status-sync/" in r[3]) >= '$n)" = True
# a connection is a client port: requests shared connections
check "fewer connections than requests (multiplexed)" \
	test "$(alog 'len(set(r[5] for r in rows)) < len(rows)')" = True
check "some /run connections resumed an earlier TLS session" \
	test "$(alog 'sum(1 for r in rows if r[2] == "POST" and r[1] == "r") >= 1')" = True
check "the driver said nothing about certificates" \
	sh -c "! grep -qi certificate '$tmp/d2.log'"

th_end
