#!/usr/bin/env bash
# T0 of hack/lib/pki.sh: what it issues verifies against its CA with the
# usages and names asked for, a re-run changes no file (so no component is
# restarted), a changed request or a new CA re-issues, and a missing CA is an
# error that names it.
#
#   hack/lib/pki_test.sh        prints "pki_test: N passed, M failed"; exit 1 on a failure
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/lib/pki.sh
source "$here/pki.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check TEXT CMD...
  if "${@:2}" >/dev/null 2>&1; then ok "$1"; else fail "$1"; fi
}
sums() { (cd "$1" && find . -type f -printf '%p %T@ ' -exec sha256sum {} \; | sort); }

p=$work/pki
server_san="$pki_server_ext
subjectAltName = IP:127.0.0.1, DNS:localhost"
pki_ca "$p" ca test-ca
pki_issue "$p" server "/CN=test-server" "$server_san"
pki_issue "$p" admin "/O=system:masters/CN=test-admin" "$pki_client_ext"
pki_signing_key "$p" sa

check "the server certificate verifies against the CA, for TLS servers" \
  openssl verify -CAfile "$p/ca.crt" -purpose sslserver "$p/server.crt"
check "the client certificate verifies against the CA, for TLS clients" \
  openssl verify -CAfile "$p/ca.crt" -purpose sslclient "$p/admin.crt"
if openssl verify -CAfile "$p/ca.crt" -purpose sslserver "$p/admin.crt" >/dev/null 2>&1; then
  fail "a client certificate is accepted as a server's"
else
  ok "a client certificate is not a server's"
fi
text=$(openssl x509 -in "$p/server.crt" -noout -text)
[[ $text == *"IP Address:127.0.0.1, DNS:localhost"* ]] && ok "the server's names are its subjectAltName" ||
  fail "server subjectAltName: $text"
[[ $(openssl x509 -in "$p/admin.crt" -noout -subject) == "subject=O = system:masters, CN = test-admin" ]] &&
  ok "the client's subject is the one asked for" || fail "admin subject: $(openssl x509 -in "$p/admin.crt" -noout -subject)"
[[ $(stat -c %a "$p/admin.key") == 600 && $(stat -c %a "$p/ca.key") == 600 && $(stat -c %a "$p/sa.key") == 600 ]] &&
  ok "keys are mode 600" || fail "key modes: $(stat -c '%n %a' "$p"/*.key)"
check "the signing key's public half matches it" \
  cmp <(openssl pkey -in "$p/sa.key" -pubout) "$p/sa.pub"

pki_kubeconfig "$work/kubeconfig" https://127.0.0.1:6443 "$p" admin
python3 - "$work/kubeconfig" "$p" <<'PY' && ok "the kubeconfig holds the CA, the certificate and the key inline" || fail "kubeconfig"
import base64, sys
text = open(sys.argv[1]).read()
for key, f in (("certificate-authority-data", "ca.crt"), ("client-certificate-data", "admin.crt"),
               ("client-key-data", "admin.key")):
    line = next(l for l in text.splitlines() if l.strip().startswith(key + ":"))
    assert base64.b64decode(line.split(":", 1)[1].strip()) == open(sys.argv[2] + "/" + f, "rb").read(), key
assert "server: https://127.0.0.1:6443" in text
PY
[[ $(stat -c %a "$work/kubeconfig") == 600 ]] && ok "the kubeconfig is mode 600" || fail "kubeconfig mode"

# --- a re-run changes nothing ----------------------------------------------
before=$(sums "$work")
sleep 1
pki_ca "$p" ca test-ca
pki_issue "$p" server "/CN=test-server" "$server_san"
pki_issue "$p" admin "/O=system:masters/CN=test-admin" "$pki_client_ext"
pki_signing_key "$p" sa
pki_kubeconfig "$work/kubeconfig" https://127.0.0.1:6443 "$p" admin
[[ $(sums "$work") == "$before" ]] && ok "a re-run changes no file, not even a time stamp" ||
  fail "a re-run changed: $(diff <(echo "$before") <(sums "$work"))"

# --- a changed request, or a new CA, re-issues -----------------------------
old=$(sha256sum <"$p/server.crt")
pki_issue "$p" server "/CN=test-server" "$pki_server_ext
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:other"
[[ $(sha256sum <"$p/server.crt") != "$old" && $(openssl x509 -in "$p/server.crt" -noout -text) == *"DNS:other"* ]] &&
  ok "a new subjectAltName re-issues the certificate" || fail "a new subjectAltName kept the old certificate"
rm "$p/ca.crt" "$p/ca.key"
pki_ca "$p" ca test-ca
pki_issue "$p" admin "/O=system:masters/CN=test-admin" "$pki_client_ext"
check "a new CA re-issues what the old one signed" openssl verify -CAfile "$p/ca.crt" "$p/admin.crt"

# --- errors name what is missing -------------------------------------------
if out=$(pki_issue "$p" x "/CN=x" "$pki_client_ext" no-such-ca 2>&1); then
  fail "issuing with a missing CA succeeded"
elif [[ $out == *"$p/no-such-ca.crt"* ]]; then
  ok "a missing CA is refused: $out"
else
  fail "the message does not name the CA: $out"
fi

echo "pki_test: $passed passed, $failed failed"
((failed == 0))
