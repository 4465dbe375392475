// A minimal XML element tree for writing libvirt documents: attributes keep
// the order they were set in and output is indented, so generated domains
// are deterministic and readable in golden files.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vireo::launcher {

class XmlElement {
 public:
  explicit XmlElement(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // Sets (or replaces) an attribute; returns *this for chaining.
  XmlElement& Attr(std::string_view name, std::string_view value);
  // Text content. An element has either text or children, not both.
  XmlElement& Text(std::string_view text);
  // Appends a child and returns it. The reference stays valid as long as
  // this element lives, however many children are added later.
  XmlElement& Add(std::string_view name);
  // The first child of that name, or nullptr.
  XmlElement* Find(std::string_view name);
  // Not written when it ends up with no attribute, text or child, so a
  // section can be laid out first and filled only when needed.
  XmlElement& OmitWhenEmpty() {
    omit_when_empty_ = true;
    return *this;
  }

  // The element and its subtree, two spaces per level, one element a line,
  // ending with a newline. Attribute values use single quotes, as libvirt
  // writes them.
  std::string Serialize() const;

 private:
  void SerializeTo(std::string& out, int depth) const;
  bool HasContent() const;  // text, or a child that is written
  bool Omitted() const;

  std::string name_;
  std::vector<std::pair<std::string, std::string>> attrs_;
  std::string text_;
  std::vector<std::unique_ptr<XmlElement>> children_;
  bool omit_when_empty_ = false;
};

// Escapes &, < and >, and for a (single-quoted) attribute also '.
std::string XmlEscape(std::string_view text, bool in_attribute);

}  // namespace vireo::launcher
