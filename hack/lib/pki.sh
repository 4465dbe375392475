# shellcheck shell=bash
# Certificates and kubeconfigs for the clusters Vireo starts itself (sourced,
# not run): the local cluster (hack/cluster-up.sh) and the T1 harness
# (tests/integration/apiserver.sh). One CA signs the certificates of a
# directory; keys are EC P-256, made with openssl. Everything is kept while
# it is valid, so a re-run changes no file, and a component whose files did
# not change is not restarted.
#
#   pki_ca DIR NAME CN                  DIR/NAME.{key,crt}: a self-signed CA
#   pki_issue DIR NAME SUBJECT EXT [CA] DIR/NAME.{key,crt} signed by DIR/CA (default ca)
#   pki_signing_key DIR NAME            DIR/NAME.key and DIR/NAME.pub (service accounts)
#   pki_kubeconfig FILE SERVER DIR CERT a kubeconfig for DIR/CERT.{crt,key}, trusting DIR/ca.crt
#
# Each returns non-zero with a message on stderr when openssl fails.

pki_error() { echo "pki: error: $*" >&2; return 1; }
# proc_write_config: a kubeconfig is rewritten only when it changes.
# shellcheck source=hack/lib/proc.sh
declare -F proc_write_config >/dev/null || source "$(dirname "${BASH_SOURCE[0]}")/proc.sh"

# The extensions of a server certificate and of a client certificate; a
# caller appends its subjectAltName to the first.
pki_server_ext="basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth"
pki_client_ext="basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth"

# pki_ca DIR NAME CN: a CA valid for 30 more days is kept, else a new one is
# made (pki_issue then renews what the old one signed: its record of the
# issuer no longer matches).
pki_ca() {
  local dir=$1 name=$2 cn=$3
  mkdir -p "$dir"
  if [[ -f $dir/$name.crt ]] && openssl x509 -checkend $((30 * 86400)) -noout -in "$dir/$name.crt" >/dev/null; then
    return 0
  fi
  cat >"$dir/$name.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = $cn
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
EOF
  openssl req -x509 -config "$dir/$name.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$dir/$name.key" -out "$dir/$name.crt" -days 3650 2>"$dir/$name.err" ||
    { pki_error "making the CA $dir/$name.crt: $(cat "$dir/$name.err")"; return 1; }
  rm -f "$dir/$name.err"
  chmod 600 "$dir/$name.key"
}

# pki_issue DIR NAME SUBJECT EXTENSIONS [CA]: NAME.key + NAME.crt signed by
# CA. Kept while valid for another day and issued for the same extensions by
# the same CA (NAME.ext records both).
pki_issue() {
  local dir=$1 name=$2 subject=$3 ca=${5:-ca} ext
  [[ -f $dir/$ca.crt ]] || { pki_error "issuing $name: no CA $dir/$ca.crt"; return 1; }
  ext="$4
# issuer: $(sha256sum <"$dir/$ca.crt" | cut -c1-16)"
  if [[ -f $dir/$name.crt && "$(cat "$dir/$name.ext" 2>/dev/null)" == "$ext" ]] &&
    openssl x509 -checkend 86400 -noout -in "$dir/$name.crt" >/dev/null; then
    return 0
  fi
  printf '%s\n' "$ext" >"$dir/$name.ext"
  if ! openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>"$dir/$name.err" ||
    ! openssl x509 -req -in "$dir/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
      -CAcreateserial -days 365 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>"$dir/$name.err"; then
    rm -f "$dir/$name.ext" # so that the next run tries again
    pki_error "issuing $dir/$name.crt ($subject): $(cat "$dir/$name.err")"
    return 1
  fi
  rm -f "$dir/$name.csr" "$dir/$name.err"
  chmod 600 "$dir/$name.key"
}

# pki_signing_key DIR NAME: a key pair that signs tokens (no certificate),
# made once.
pki_signing_key() {
  local dir=$1 name=$2
  [[ -f $dir/$name.key && -f $dir/$name.pub ]] && return 0
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$dir/$name.key" 2>/dev/null &&
    openssl pkey -in "$dir/$name.key" -pubout -out "$dir/$name.pub" 2>/dev/null ||
    { pki_error "making the key pair $dir/$name.key"; return 1; }
  chmod 600 "$dir/$name.key"
}

# pki_kubeconfig FILE SERVER DIR CERT: a kubeconfig for the user CERT (its
# certificate and key in DIR) of the cluster at SERVER (https://HOST:PORT),
# which DIR/ca.crt signed. The certificates are inline, so the file can be
# copied anywhere (e.g. into a container); context and cluster are "vireo",
# namespace default. Mode 600 (it holds a key).
pki_kubeconfig() {
  local file=$1 server=$2 dir=$3 cert=$4 ca_data cert_data key_data
  ca_data=$(base64 -w0 "$dir/ca.crt") && cert_data=$(base64 -w0 "$dir/$cert.crt") &&
    key_data=$(base64 -w0 "$dir/$cert.key") || { pki_error "writing $file: no $cert in $dir"; return 1; }
  proc_write_config "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: vireo
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: $cert
  user:
    client-certificate-data: $cert_data
    client-key-data: $key_data
contexts:
- name: vireo
  context: {cluster: vireo, user: $cert, namespace: default}
current-context: vireo
EOF
  chmod 600 "$file"
}
