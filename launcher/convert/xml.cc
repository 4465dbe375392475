// XmlElement: building and serializing the element tree.
#include "launcher/convert/xml.h"

namespace vireo::launcher {

std::string XmlEscape(std::string_view text, bool in_attribute) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      // Attributes are single-quoted, so '"' stays readable (JSON in a
      // <qemu:arg value=...>) and only '\'' needs escaping.
      case '\'':
        out += in_attribute ? "&apos;" : "'";
        break;
      default:
        out += c;
    }
  }
  return out;
}

XmlElement& XmlElement::Attr(std::string_view name, std::string_view value) {
  for (auto& [key, old] : attrs_) {
    if (key == name) {
      old = std::string(value);
      return *this;
    }
  }
  attrs_.emplace_back(std::string(name), std::string(value));
  return *this;
}

XmlElement& XmlElement::Text(std::string_view text) {
  text_ = std::string(text);
  return *this;
}

XmlElement& XmlElement::Add(std::string_view name) {
  children_.push_back(std::make_unique<XmlElement>(std::string(name)));
  return *children_.back();
}

XmlElement* XmlElement::Find(std::string_view name) {
  for (auto& child : children_) {
    if (child->name_ == name) return child.get();
  }
  return nullptr;
}

std::string XmlElement::Serialize() const {
  std::string out;
  SerializeTo(out, 0);
  return out;
}

bool XmlElement::HasContent() const {
  if (!text_.empty()) return true;
  for (const auto& child : children_) {
    if (!child->Omitted()) return true;
  }
  return false;
}

bool XmlElement::Omitted() const { return omit_when_empty_ && attrs_.empty() && !HasContent(); }

void XmlElement::SerializeTo(std::string& out, int depth) const {
  if (Omitted()) return;
  const bool has_content = HasContent();
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += '<' + name_;
  for (const auto& [key, value] : attrs_)
    out += ' ' + key + "='" + XmlEscape(value, /*in_attribute=*/true) + '\'';
  if (!has_content) {
    out += "/>\n";
    return;
  }
  out += '>';
  if (!text_.empty()) {
    out += XmlEscape(text_, /*in_attribute=*/false) + "</" + name_ + ">\n";
    return;
  }
  out += '\n';
  for (const auto& child : children_) child->SerializeTo(out, depth + 1);
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += "</" + name_ + ">\n";
}

}  // namespace vireo::launcher
