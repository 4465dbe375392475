// How to reach and authenticate to a cluster: read from kubeconfig files the
// way kubectl reads them, or from the service-account files of a pod.
#pragma once

#include <map>
#include <string>

#include "lib/base/status.h"

namespace vireo::kube {

struct ClusterConfig {
  std::string server;  // "https://host:port", no trailing slash
  std::string tls_server_name;
  std::string ca_pem;  // empty: the system's trust store
  bool insecure_skip_tls_verify = false;  // only when the kubeconfig says so
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;
  std::string token_file;  // re-read when it changes (projected tokens rotate)
  std::string namespace_name = "default";  // the context's namespace
  std::string context_name;  // for messages; empty for in-cluster
};

struct KubeconfigOptions {
  std::string explicit_path;  // --kubeconfig: only this file, no merging
  std::string context;        // --context: overrides current-context
  // Injected for tests; empty means: read the process environment.
  std::string kubeconfig_env;  // $KUBECONFIG, ':'-separated list merged in order
  std::string home;            // $HOME, for ~/.kube/config
};

// Merges the files as kubectl does (first file wins for each named entry and
// for current-context), picks the context, resolves relative paths against the
// file that named them, and inlines file references (CA, cert, key).
// Errors name the file and the field: "kubeconfig /x: context "a" names user "b", which is not defined".
base::Result<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options = {});

// Parses one kubeconfig document. base_dir resolves relative paths.
base::Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text, const std::string& base_dir,
                                      const std::string& context = {});

struct InClusterEnv {
  std::map<std::string, std::string> env;  // empty: the process environment
  std::string secrets_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
// KUBERNETES_SERVICE_HOST/PORT, the token file, the CA and the namespace file.
base::Result<ClusterConfig> InClusterConfig(const InClusterEnv& in = {});

// --kubeconfig when given, else $KUBECONFIG, else in-cluster when running in a
// pod, else ~/.kube/config.
base::Result<ClusterConfig> LoadDefaultConfig(const KubeconfigOptions& options = {});

}  // namespace vireo::kube
