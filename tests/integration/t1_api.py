"""The T1 Python tests' way to the apiserver: one TLS connection from the
harness's kubeconfig (client certificate or token), and server-side dry runs
with a chosen fieldValidation, for tests that send many objects.
"""
import base64
import http.client
import json
import os
import ssl
import tempfile

import yaml

NAMESPACE = "default"  # a dry run creates nothing


def kubeconfig_path():
    """The harness's kubeconfig (VIREO_TEST_CLUSTER_DIR), else KUBECONFIG; None without either."""
    cluster_dir = os.environ.get("VIREO_TEST_CLUSTER_DIR")
    return os.path.join(cluster_dir, "kubeconfig") if cluster_dir else os.environ.get("KUBECONFIG")


class Api:
    """The apiserver of a kubeconfig (client certificate or token), over one TLS connection."""

    def __init__(self, kubeconfig):
        with open(kubeconfig, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        ctx_name = cfg["current-context"]
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        # The credentials only live as files while the TLS context reads them.
        tmp = tempfile.TemporaryDirectory(prefix="vireo-t1-api-")

        def path(key):
            if key in cluster or key in user:
                return (cluster.get(key) or user.get(key))
            data = cluster.get(key + "-data") or user.get(key + "-data")
            if not data:
                return None
            p = os.path.join(tmp.name, key)
            with open(p, "wb") as f:
                f.write(base64.b64decode(data))
            return p

        with tmp:
            ctx_ssl = ssl.create_default_context(cafile=path("certificate-authority"))
            if path("client-certificate"):
                ctx_ssl.load_cert_chain(path("client-certificate"), path("client-key"))
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if user.get("token"):
            self.headers["Authorization"] = "Bearer " + user["token"]
        server = cluster["server"]
        assert server.startswith("https://"), server
        host = server[len("https://"):].rstrip("/")
        self.conn = http.client.HTTPSConnection(host, context=ctx_ssl, timeout=30)

    def create(self, plural, obj, mode):
        group = obj.get("apiVersion", "kubevirt.io/v1")
        # The cluster-wide instance types and preferences have no namespace.
        scope = "" if "cluster" in plural else f"/namespaces/{NAMESPACE}"
        url = (f"/apis/{group}{scope}/{plural}"
               f"?dryRun=All&fieldValidation={mode}&fieldManager=unsupported-fields-test")
        self.conn.request("POST", url, body=json.dumps(obj), headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        try:
            return resp.status, json.loads(body), resp.getheader("Warning")
        except ValueError:
            return resp.status, {"raw": body}, None
