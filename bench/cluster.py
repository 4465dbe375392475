"""The local cluster (hack/cluster-up.sh) as the benches of this folder drive
it: kubectl and helm with the cluster's kubeconfig, from its env file."""
import json
import os
import subprocess
import sys

CACHE = os.environ.get("VIREO_CACHE_DIR",
                       os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "vireo"))


class Kube:
    def __init__(self, cluster_dir, prog):
        self.prog = prog  # the bench's name, for its messages
        with open(os.path.join(cluster_dir, "env")) as f:
            self.env = dict(line.strip().split("=", 1) for line in f if "=" in line)
        self.kubectl_argv = [os.path.join(self.env["BIN"], "kubectl"), "--kubeconfig", self.env["KUBECONFIG"]]
        self.helm_argv = [os.path.join(self.env["BIN"], "helm"), "--kubeconfig", self.env["KUBECONFIG"]]

    def kubectl(self, *args, input=None, timeout=300):
        return subprocess.run(self.kubectl_argv + list(args), input=input, capture_output=True, text=True,
                              timeout=timeout)

    def helm(self, *args):
        return subprocess.run(self.helm_argv + list(args), capture_output=True, text=True, timeout=600)

    def apply(self, *objects):
        """kubectl apply of the objects; the bench ends, saying why, when it fails."""
        p = self.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
        if p.returncode != 0:
            sys.exit(f"{self.prog}: kubectl apply: {p.stderr}")
