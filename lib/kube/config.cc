// Kubeconfig files read the way kubectl reads them (merge order, relative
// paths, inlined credentials), the service-account files of a pod, and the
// order in which a program looks for either.
#include "lib/kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "lib/base/file_util.h"

namespace vireo::kube {

using base::Code;
using base::DecodeBase64;
using base::ReadFile;
using base::Result;
using base::Status;
using base::TrimSpace;

namespace {

namespace fs = std::filesystem;
using base::DecodeBase64;
using base::ReadFile;
using base::TrimSpace;

// One named entry (cluster, user or context) and the file that defined it,
// whose directory anchors the entry's relative paths.
struct Entry {
  YAML::Node body;
  std::string file;
  std::string base_dir;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;
};

const char* TypeName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "empty";
  }
}

bool Present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

// A string field; absent or null is "". `where` names the file and entry.
Result<std::string> StringField(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node node = map[key];
  if (!Present(node)) return std::string();
  if (!node.IsScalar()) {
    return Status(Code::kInvalid, where + ": field \"" + key + "\" must be a string, not " +
                                      TypeName(node) + "; fix the file");
  }
  return node.Scalar();
}

Result<bool> BoolField(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node node = map[key];
  if (!Present(node)) return false;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return Status(Code::kInvalid,
                  where + ": field \"" + key + "\" must be true or false; fix the file");
  }
  return value;
}

// Adds the entries of one `clusters`/`users`/`contexts` list; entries already
// named by an earlier file win.
Status MergeList(const YAML::Node& root, const char* list_key, const char* body_key,
                 const std::string& file, const std::string& base_dir,
                 std::map<std::string, Entry>* into) {
  const YAML::Node list = root[list_key];
  if (!Present(list)) return Status::Ok();
  std::string where = "kubeconfig " + file;
  if (!list.IsSequence()) {
    return Status(Code::kInvalid, where + ": \"" + list_key + "\" must be a list, not " +
                                      TypeName(list) + "; fix the file");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    std::string item_where = where + ": " + list_key + "[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      return Status(Code::kInvalid, item_where + " must be a mapping with \"name\" and \"" +
                                        body_key + "\", not " + TypeName(item));
    }
    Result<std::string> name = StringField(item, "name", item_where);
    if (!name.ok()) return name.status();
    if (name->empty()) return Status(Code::kInvalid, item_where + " has no \"name\"; add one");
    const YAML::Node body = item[body_key];
    if (Present(body) && !body.IsMap()) {
      return Status(Code::kInvalid, item_where + " (\"" + *name + "\"): \"" + body_key +
                                        "\" must be a mapping, not " + TypeName(body));
    }
    into->try_emplace(
        *name, Entry{Present(body) ? body : YAML::Node(YAML::NodeType::Map), file, base_dir});
  }
  return Status::Ok();
}

// Folds one file's text into `merged`. An empty file contributes nothing.
Status MergeText(const std::string& text, const std::string& file, const std::string& base_dir,
                 Merged* merged) {
  merged->files.push_back(file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalid, "kubeconfig " + file + " is not valid YAML (line " +
                                      std::to_string(e.mark.line + 1) + ", column " +
                                      std::to_string(e.mark.column + 1) + ": " + e.msg +
                                      "); fix the file");
  }
  if (!Present(root)) return Status::Ok();
  if (!root.IsMap()) {
    return Status(Code::kInvalid, "kubeconfig " + file + " is not a kubeconfig: its top level is " +
                                      TypeName(root) + ", not a mapping");
  }
  Status status = MergeList(root, "clusters", "cluster", file, base_dir, &merged->clusters);
  if (status.ok()) status = MergeList(root, "users", "user", file, base_dir, &merged->users);
  if (status.ok()) {
    status = MergeList(root, "contexts", "context", file, base_dir, &merged->contexts);
  }
  if (!status.ok()) return status;
  Result<std::string> current = StringField(root, "current-context", "kubeconfig " + file);
  if (!current.ok()) return current.status();
  if (merged->current_context.empty()) merged->current_context = *current;
  return Status::Ok();
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

// The content of a credential given inline (`<key>-data`, base64) or as a
// file (`<key>`, a path relative to the entry's file). Both at once is an
// error, as in kubectl.
Result<std::string> InlineOrFile(const Entry& entry, const std::string& key,
                                 const std::string& where) {
  std::string data_key = key + "-data";
  Result<std::string> data = StringField(entry.body, data_key.c_str(), where);
  if (!data.ok()) return data.status();
  Result<std::string> path = StringField(entry.body, key.c_str(), where);
  if (!path.ok()) return path.status();
  if (!data->empty() && !path->empty()) {
    return Status(Code::kInvalid,
                  where + ": both \"" + key + "\" and \"" + data_key + "\" are set; keep one");
  }
  if (!data->empty()) {
    std::optional<std::string> decoded = DecodeBase64(*data);
    if (!decoded) {
      return Status(Code::kInvalid, where + ": \"" + data_key +
                                        "\" is not valid base64; encode the PEM file with "
                                        "`base64 -w0 FILE`");
    }
    return *decoded;
  }
  if (path->empty()) return std::string();
  std::string resolved = ResolvePath(*path, entry.base_dir);
  Result<std::string> content = ReadFile(resolved);
  if (!content.ok()) {
    return Status(Code::kInvalid, where + ": cannot read \"" + key + "\" " + resolved + " (" +
                                      content.status().message() + ")");
  }
  return content;
}

Status FillCluster(const std::string& name, const Entry& entry, ClusterConfig* out) {
  std::string where = "kubeconfig " + entry.file + ": cluster \"" + name + "\"";
  Result<std::string> server = StringField(entry.body, "server", where);
  if (!server.ok()) return server.status();
  if (server->empty()) return Status(Code::kInvalid, where + " has no \"server\"; add its URL");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return Status(Code::kInvalid,
                  where + ": server \"" + *server + "\" must start with https:// (or http://)");
  }
  out->server = *server;
  while (out->server.size() > 8 && out->server.back() == '/') out->server.pop_back();

  Result<std::string> sni = StringField(entry.body, "tls-server-name", where);
  Result<bool> insecure = BoolField(entry.body, "insecure-skip-tls-verify", where);
  Result<std::string> ca = InlineOrFile(entry, "certificate-authority", where);
  Result<std::string> proxy = StringField(entry.body, "proxy-url", where);
  for (const Status* s : {&sni.status(), &insecure.status(), &ca.status(), &proxy.status()}) {
    if (!s->ok()) return *s;
  }
  if (!proxy->empty()) {
    return Status(Code::kInvalid, where +
                                      ": \"proxy-url\" is not supported by Vireo; reach the "
                                      "apiserver directly");
  }
  if (*insecure && !ca->empty()) {
    return Status(Code::kInvalid, where +
                                      ": \"insecure-skip-tls-verify\" cannot be combined with "
                                      "a certificate authority; remove one of them");
  }
  out->tls_server_name = *sni;
  out->insecure_skip_tls_verify = *insecure;
  out->ca_pem = *ca;
  return Status::Ok();
}

Status FillUser(const std::string& name, const Entry& entry, ClusterConfig* out) {
  std::string where = "kubeconfig " + entry.file + ": user \"" + name + "\"";
  for (const char* unsupported : {"exec", "auth-provider", "username", "password"}) {
    if (Present(entry.body[unsupported])) {
      return Status(Code::kInvalid, where + ": \"" + std::string(unsupported) +
                                        "\" is not supported by Vireo; use a token, a token "
                                        "file or a client certificate");
    }
  }
  Result<std::string> cert = InlineOrFile(entry, "client-certificate", where);
  if (!cert.ok()) return cert.status();
  Result<std::string> key = InlineOrFile(entry, "client-key", where);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return Status(Code::kInvalid, where +
                                      ": a client certificate needs both \"client-certificate"
                                      "\" and \"client-key\" (or their -data forms)");
  }
  Result<std::string> token = StringField(entry.body, "token", where);
  if (!token.ok()) return token.status();
  Result<std::string> token_file = StringField(entry.body, "tokenFile", where);
  if (!token_file.ok()) return token_file.status();
  out->client_cert_pem = *cert;
  out->client_key_pem = *key;
  // As in kubectl, an inline token wins over a token file.
  if (!token->empty()) {
    out->bearer_token = *token;
  } else if (!token_file->empty()) {
    std::string path = ResolvePath(*token_file, entry.base_dir);
    Result<std::string> content = ReadFile(path);
    if (!content.ok()) {
      return Status(Code::kInvalid, where + ": cannot read \"tokenFile\" " + path + " (" +
                                        content.status().message() + ")");
    }
    out->bearer_token = TrimSpace(*content);
    out->token_file = path;
  }
  return Status::Ok();
}

std::string FileList(const Merged& merged) {
  std::string out;
  for (const std::string& f : merged.files) out += (out.empty() ? "" : ", ") + f;
  return out.empty() ? "(none)" : out;
}

std::string Names(const std::map<std::string, Entry>& entries) {
  std::string out;
  for (const auto& [name, entry] : entries) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "(none)" : out;
}

Result<ClusterConfig> Resolve(const Merged& merged, const std::string& context_override) {
  std::string context_name = context_override.empty() ? merged.current_context : context_override;
  if (context_name.empty()) {
    return Status(Code::kInvalid, "kubeconfig " + FileList(merged) +
                                      ": no current-context is set; run `kubectl config "
                                      "use-context NAME` or pass --context");
  }
  auto context = merged.contexts.find(context_name);
  if (context == merged.contexts.end()) {
    return Status(Code::kNotFound,
                  "kubeconfig " + FileList(merged) + ": context \"" + context_name + "\"" +
                      (context_override.empty() ? " (current-context)" : "") +
                      " is not defined; defined contexts: " + Names(merged.contexts));
  }
  const Entry& ctx = context->second;
  std::string where = "kubeconfig " + ctx.file + ": context \"" + context_name + "\"";
  Result<std::string> cluster_name = StringField(ctx.body, "cluster", where);
  Result<std::string> user_name = StringField(ctx.body, "user", where);
  Result<std::string> ns = StringField(ctx.body, "namespace", where);
  for (const Status* s : {&cluster_name.status(), &user_name.status(), &ns.status()}) {
    if (!s->ok()) return *s;
  }
  if (cluster_name->empty()) return Status(Code::kInvalid, where + " names no cluster; add one");
  auto cluster = merged.clusters.find(*cluster_name);
  if (cluster == merged.clusters.end()) {
    return Status(Code::kInvalid, where + " names cluster \"" + *cluster_name +
                                      "\", which is not defined in " + FileList(merged) +
                                      "; add it or fix the context");
  }
  ClusterConfig out;
  out.context_name = context_name;
  if (!ns->empty()) out.namespace_name = *ns;
  Status status = FillCluster(*cluster_name, cluster->second, &out);
  if (!status.ok()) return status;
  // A context without a user is anonymous, as in kubectl.
  if (!user_name->empty()) {
    auto user = merged.users.find(*user_name);
    if (user == merged.users.end()) {
      return Status(Code::kInvalid, where + " names user \"" + *user_name +
                                        "\", which is not defined in " + FileList(merged) +
                                        "; add it or fix the context");
    }
    status = FillUser(*user_name, user->second, &out);
    if (!status.ok()) return status;
  }
  return out;
}

std::string Getenv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string DirOf(const std::string& file) {
  return fs::absolute(fs::path(file)).parent_path().string();
}

}  // namespace

Result<ClusterConfig> ParseKubeconfig(const std::string& yaml_text, const std::string& base_dir,
                                      const std::string& context) {
  Merged merged;
  Status status = MergeText(yaml_text, "(text)", base_dir, &merged);
  if (!status.ok()) return status;
  return Resolve(merged, context);
}

Result<ClusterConfig> LoadKubeconfig(const KubeconfigOptions& options) {
  Merged merged;
  if (!options.explicit_path.empty()) {
    // An explicit file must exist and is used alone.
    Result<std::string> text = ReadFile(options.explicit_path);
    if (!text.ok()) {
      return Status(Code::kNotFound, "kubeconfig " + options.explicit_path +
                                         " (--kubeconfig): " + text.status().message());
    }
    if (TrimSpace(*text).empty()) {
      return Status(Code::kInvalid, "kubeconfig " + options.explicit_path + " is empty");
    }
    Status status = MergeText(*text, options.explicit_path, DirOf(options.explicit_path), &merged);
    if (!status.ok()) return status;
    return Resolve(merged, options.context);
  }
  std::string env = options.kubeconfig_env.empty() ? Getenv("KUBECONFIG") : options.kubeconfig_env;
  std::vector<std::string> files;
  if (!env.empty()) {
    size_t start = 0;
    while (start <= env.size()) {
      size_t colon = env.find(':', start);
      std::string file = env.substr(start, colon == std::string::npos ? colon : colon - start);
      if (!file.empty()) files.push_back(file);
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  } else {
    std::string home = options.home.empty() ? Getenv("HOME") : options.home;
    if (home.empty()) {
      return Status(Code::kNotFound,
                    "no kubeconfig: $HOME and $KUBECONFIG are unset; pass "
                    "--kubeconfig");
    }
    files.push_back(home + "/.kube/config");
  }
  // Like kubectl, files of the list that do not exist are skipped.
  for (const std::string& file : files) {
    std::error_code ignored;
    if (!fs::exists(file, ignored)) continue;
    Result<std::string> text = ReadFile(file);
    if (!text.ok())
      return Status(Code::kInvalid, "kubeconfig " + file + ": " + text.status().message());
    Status status = MergeText(*text, file, DirOf(file), &merged);
    if (!status.ok()) return status;
  }
  if (merged.files.empty()) {
    std::string names;
    for (const std::string& f : files) names += (names.empty() ? "" : ", ") + f;
    return Status(Code::kNotFound, "no kubeconfig found (looked for " + names +
                                       "); pass --kubeconfig or set KUBECONFIG");
  }
  return Resolve(merged, options.context);
}

Result<ClusterConfig> InClusterConfig(const InClusterEnv& in) {
  auto lookup = [&](const char* name) {
    if (in.env.empty()) return Getenv(name);
    auto it = in.env.find(name);
    return it == in.env.end() ? std::string() : it->second;
  };
  std::string host = lookup("KUBERNETES_SERVICE_HOST");
  std::string port = lookup("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return Status(Code::kNotFound,
                  "in-cluster config: KUBERNETES_SERVICE_HOST and "
                  "KUBERNETES_SERVICE_PORT must both be set (is this a pod?)");
  }
  // An IPv6 service address needs brackets inside a URL.
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  ClusterConfig out;
  out.server = "https://" + host + ":" + port;
  out.token_file = in.secrets_dir + "/token";
  Result<std::string> token = ReadFile(out.token_file);
  if (!token.ok()) {
    return Status(Code::kNotFound, "in-cluster config: cannot read the service-account token " +
                                       out.token_file + " (" + token.status().message() +
                                       "); is automountServiceAccountToken off for this pod?");
  }
  out.bearer_token = TrimSpace(*token);
  if (out.bearer_token.empty()) {
    return Status(Code::kInvalid,
                  "in-cluster config: the service-account token " + out.token_file + " is empty");
  }
  Result<std::string> ca = ReadFile(in.secrets_dir + "/ca.crt");
  if (!ca.ok()) {
    return Status(Code::kNotFound, "in-cluster config: cannot read the cluster CA " +
                                       in.secrets_dir + "/ca.crt (" + ca.status().message() + ")");
  }
  out.ca_pem = *ca;
  Result<std::string> ns = ReadFile(in.secrets_dir + "/namespace");
  if (ns.ok() && !TrimSpace(*ns).empty()) out.namespace_name = TrimSpace(*ns);
  return out;
}

Result<ClusterConfig> LoadDefaultConfig(const KubeconfigOptions& options) {
  std::string env = options.kubeconfig_env.empty() ? Getenv("KUBECONFIG") : options.kubeconfig_env;
  if (!options.explicit_path.empty() || !env.empty()) return LoadKubeconfig(options);
  if (!Getenv("KUBERNETES_SERVICE_HOST").empty() && !Getenv("KUBERNETES_SERVICE_PORT").empty()) {
    return InClusterConfig();
  }
  return LoadKubeconfig(options);
}

}  // namespace vireo::kube
