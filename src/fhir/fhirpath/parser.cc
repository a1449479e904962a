// FHIRPath lexer and recursive-descent parser (precedence per the N1 grammar, section 10).

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/fhirpath/internal/ast.h"
#include "fhir/fhirpath/internal/values.h"

namespace medalliance::fhir::fhirpath {
namespace {

using core::Error;
using core::Result;
using internal::Node;
using NodePtr = std::unique_ptr<Node>;

struct Token {
  enum class Kind : uint8_t {
    kEnd,
    kIdentifier,
    kDelimitedIdentifier,
    kString,
    kNumber,
    kDate,
    kDateTime,
    kTime,
    kSymbol,
    kSpecial,   // $this / $index / $total
    kExternal,  // %name (text holds the name)
  };
  Kind kind = Kind::kEnd;
  std::string text;
  size_t position = 0;
};

Error SyntaxError(size_t position, std::string_view message) {
  return Error::BadRequest("FHIRPath syntax error at position " + std::to_string(position) + ": " +
                           std::string(message));
}

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || (c >= '0' && c <= '9');
}
bool IsDigitChar(char c) {
  return c >= '0' && c <= '9';
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      MA_RETURN_IF_ERROR(SkipSpaceAndComments());
      Token token;
      token.position = pos_;
      if (pos_ >= text_.size()) {
        tokens.push_back(token);
        return tokens;
      }
      char c = text_[pos_];
      if (IsIdentStart(c)) {
        size_t start = pos_;
        while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
        token.kind = Token::Kind::kIdentifier;
        token.text = std::string(text_.substr(start, pos_ - start));
      } else if (c == '`') {
        token.kind = Token::Kind::kDelimitedIdentifier;
        MA_ASSIGN_OR_RETURN(token.text, Quoted('`'));
      } else if (c == '\'') {
        token.kind = Token::Kind::kString;
        MA_ASSIGN_OR_RETURN(token.text, Quoted('\''));
      } else if (IsDigitChar(c)) {
        size_t start = pos_;
        while (pos_ < text_.size() && IsDigitChar(text_[pos_])) ++pos_;
        if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigitChar(text_[pos_ + 1])) {
          ++pos_;
          while (pos_ < text_.size() && IsDigitChar(text_[pos_])) ++pos_;
        }
        token.kind = Token::Kind::kNumber;
        token.text = std::string(text_.substr(start, pos_ - start));
      } else if (c == '@') {
        MA_RETURN_IF_ERROR(DateLiteral(token));
      } else if (c == '$') {
        size_t start = ++pos_;
        while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
        token.kind = Token::Kind::kSpecial;
        token.text = std::string(text_.substr(start, pos_ - start));
        if (token.text != "this" && token.text != "index" && token.text != "total") {
          return SyntaxError(token.position, "unknown special variable $" + token.text);
        }
      } else if (c == '%') {
        ++pos_;
        token.kind = Token::Kind::kExternal;
        if (pos_ < text_.size() && text_[pos_] == '`') {
          MA_ASSIGN_OR_RETURN(token.text, Quoted('`'));
        } else if (pos_ < text_.size() && text_[pos_] == '\'') {
          MA_ASSIGN_OR_RETURN(token.text, Quoted('\''));
        } else if (pos_ < text_.size() && IsIdentStart(text_[pos_])) {
          size_t start = pos_;
          while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
          token.text = std::string(text_.substr(start, pos_ - start));
        } else {
          return SyntaxError(token.position, "expected a name after %");
        }
      } else {
        static const char* kSymbols[] = {"<=", ">=", "!=", "!~", "(", ")", "[", "]", "{", "}", ".",
                                         ",",  "+",  "-",  "*",  "/", "&", "|", "=", "~", "<", ">"};
        bool matched = false;
        for (const char* symbol : kSymbols) {
          std::string_view s = symbol;
          if (text_.substr(pos_, s.size()) == s) {
            token.kind = Token::Kind::kSymbol;
            token.text = std::string(s);
            pos_ += s.size();
            matched = true;
            break;
          }
        }
        if (!matched) {
          return SyntaxError(pos_, std::string("unexpected character '") + c + "'");
        }
      }
      tokens.push_back(std::move(token));
    }
  }

 private:
  core::Status SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (text_.substr(pos_, 2) == "//") {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (text_.substr(pos_, 2) == "/*") {
        size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos)
          return SyntaxError(pos_, "unterminated comment");
        pos_ = end + 2;
      } else {
        break;
      }
    }
    return core::Ok{};
  }

  Result<std::string> Quoted(char quote) {
    size_t start = pos_++;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size())
        break;
      char e = text_[pos_++];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          if (pos_ + 4 > text_.size())
            return SyntaxError(pos_, "bad \\u escape");
          uint32_t cp = 0;
          for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') {
              cp |= static_cast<uint32_t>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
              cp |= static_cast<uint32_t>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
              cp |= static_cast<uint32_t>(h - 'A' + 10);
            } else {
              return SyntaxError(pos_, "bad \\u escape");
            }
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          out.push_back(e);
          break;  // \\ \/ \' \" \`
      }
    }
    if (pos_ >= text_.size())
      return SyntaxError(start, "unterminated quoted text");
    ++pos_;
    return out;
  }

  core::Status DateLiteral(Token& token) {
    size_t start = ++pos_;
    auto digits = [&](size_t count) {
      for (size_t i = 0; i < count; ++i) {
        if (pos_ >= text_.size() || !IsDigitChar(text_[pos_]))
          return false;
        ++pos_;
      }
      return true;
    };
    auto peek_digit = [&](size_t offset) {
      return pos_ + offset < text_.size() && IsDigitChar(text_[pos_ + offset]);
    };
    auto time_part = [&]() -> bool {
      if (!digits(2))
        return false;
      if (pos_ < text_.size() && text_[pos_] == ':' && peek_digit(1)) {
        ++pos_;
        if (!digits(2))
          return false;
        if (pos_ < text_.size() && text_[pos_] == ':' && peek_digit(1)) {
          ++pos_;
          if (!digits(2))
            return false;
          if (pos_ < text_.size() && text_[pos_] == '.' && peek_digit(1)) {
            ++pos_;
            while (peek_digit(0)) ++pos_;
          }
        }
      }
      return true;
    };
    auto timezone = [&]() -> bool {
      if (pos_ < text_.size() && text_[pos_] == 'Z') {
        ++pos_;
        return true;
      }
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-') && peek_digit(1)) {
        ++pos_;
        if (!digits(2))
          return false;
        if (pos_ >= text_.size() || text_[pos_] != ':')
          return false;
        ++pos_;
        return digits(2);
      }
      return true;
    };
    if (pos_ < text_.size() && text_[pos_] == 'T') {
      ++pos_;
      if (!time_part())
        return SyntaxError(token.position, "malformed time literal");
      if (pos_ < text_.size() &&
          (text_[pos_] == 'Z' || ((text_[pos_] == '+' || text_[pos_] == '-') && peek_digit(1)))) {
        return SyntaxError(token.position, "a time literal cannot have a time zone");
      }
      token.kind = Token::Kind::kTime;
      token.text = std::string(text_.substr(start + 1, pos_ - start - 1));
      return core::Ok{};
    }
    if (!digits(4))
      return SyntaxError(token.position, "malformed date literal");
    bool date_time = false;
    if (pos_ < text_.size() && text_[pos_] == '-' && peek_digit(1)) {
      ++pos_;
      if (!digits(2))
        return SyntaxError(token.position, "malformed date literal");
      if (pos_ < text_.size() && text_[pos_] == '-' && peek_digit(1)) {
        ++pos_;
        if (!digits(2))
          return SyntaxError(token.position, "malformed date literal");
      }
    }
    if (pos_ < text_.size() && text_[pos_] == 'T') {
      ++pos_;
      date_time = true;
      if (peek_digit(0)) {
        if (!time_part() || !timezone()) {
          return SyntaxError(token.position, "malformed dateTime literal");
        }
      }
    }
    token.kind = date_time ? Token::Kind::kDateTime : Token::Kind::kDate;
    token.text = std::string(text_.substr(start, pos_ - start));
    return core::Ok{};
  }

  std::string_view text_;
  size_t pos_ = 0;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> ParseAll() {
    MA_ASSIGN_OR_RETURN(NodePtr root, Expression(0));
    if (Peek().kind != Token::Kind::kEnd) {
      return SyntaxError(Peek().position, "unexpected '" + Peek().text + "'");
    }
    return root;
  }

 private:
  // Binary operator levels, lowest first.
  static int LevelOf(const Token& token) {
    if (token.kind == Token::Kind::kIdentifier) {
      const std::string& t = token.text;
      if (t == "implies")
        return 1;
      if (t == "or" || t == "xor")
        return 2;
      if (t == "and")
        return 3;
      if (t == "in" || t == "contains")
        return 4;
      if (t == "is" || t == "as")
        return 8;
      if (t == "div" || t == "mod")
        return 10;
      return 0;
    }
    if (token.kind != Token::Kind::kSymbol)
      return 0;
    const std::string& t = token.text;
    if (t == "=" || t == "~" || t == "!=" || t == "!~")
      return 5;
    if (t == "<" || t == ">" || t == "<=" || t == ">=")
      return 6;
    if (t == "|")
      return 7;
    if (t == "+" || t == "-" || t == "&")
      return 9;
    if (t == "*" || t == "/")
      return 10;
    return 0;
  }

  const Token& Peek(size_t ahead = 0) const {
    size_t index = std::min(index_ + ahead, tokens_.size() - 1);
    return tokens_[index];
  }
  const Token& Next() {
    const Token& token = tokens_[index_];
    if (index_ + 1 < tokens_.size())
      ++index_;
    return token;
  }
  bool IsSymbol(std::string_view symbol, size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kSymbol && Peek(ahead).text == symbol;
  }
  core::Status Expect(std::string_view symbol) {
    if (!IsSymbol(symbol)) {
      return SyntaxError(Peek().position, "expected '" + std::string(symbol) + "'" +
                                              (Peek().kind == Token::Kind::kEnd
                                                   ? std::string(" at end of expression")
                                                   : ", found '" + Peek().text + "'"));
    }
    Next();
    return core::Ok{};
  }

  Result<NodePtr> Expression(int min_level) {
    MA_ASSIGN_OR_RETURN(NodePtr left, Unary());
    while (true) {
      const Token& op = Peek();
      int level = LevelOf(op);
      if (level == 0 || level <= min_level)
        break;
      size_t position = op.position;
      std::string name = op.text;
      Next();
      if (level == 8) {  // is / as TypeSpecifier
        MA_ASSIGN_OR_RETURN(std::string type_name, TypeSpecifier());
        auto node = std::make_unique<Node>();
        node->kind = Node::Kind::kTypeOp;
        node->name = name;
        node->type_name = std::move(type_name);
        node->position = position;
        node->children.push_back(std::move(left));
        left = std::move(node);
        continue;
      }
      MA_ASSIGN_OR_RETURN(NodePtr right, Expression(level));
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kBinary;
      node->name = name;
      node->position = position;
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      left = std::move(node);
    }
    return left;
  }

  Result<std::string> TypeSpecifier() {
    std::string out;
    while (true) {
      const Token& token = Peek();
      if (token.kind != Token::Kind::kIdentifier &&
          token.kind != Token::Kind::kDelimitedIdentifier) {
        return SyntaxError(token.position, "expected a type name");
      }
      out += Next().text;
      if (IsSymbol(".") && (Peek(1).kind == Token::Kind::kIdentifier ||
                            Peek(1).kind == Token::Kind::kDelimitedIdentifier)) {
        Next();
        out += ".";
        continue;
      }
      return out;
    }
  }

  Result<NodePtr> Unary() {
    if (IsSymbol("+") || IsSymbol("-")) {
      auto node = std::make_unique<Node>();
      node->kind = Node::Kind::kUnary;
      node->position = Peek().position;
      node->name = Next().text;
      MA_ASSIGN_OR_RETURN(NodePtr operand, Unary());
      node->children.push_back(std::move(operand));
      return node;
    }
    return Postfix();
  }

  Result<NodePtr> Postfix() {
    MA_ASSIGN_OR_RETURN(NodePtr node, Term());
    while (true) {
      if (IsSymbol(".")) {
        Next();
        const Token& name = Peek();
        if (name.kind != Token::Kind::kIdentifier &&
            name.kind != Token::Kind::kDelimitedIdentifier) {
          return SyntaxError(name.position, "expected a name after '.'");
        }
        Next();
        MA_ASSIGN_OR_RETURN(node, Invocation(name, std::move(node)));
      } else if (IsSymbol("[")) {
        auto indexer = std::make_unique<Node>();
        indexer->kind = Node::Kind::kIndexer;
        indexer->position = Next().position;
        MA_ASSIGN_OR_RETURN(NodePtr index, Expression(0));
        MA_RETURN_IF_ERROR(Expect("]"));
        indexer->children.push_back(std::move(node));
        indexer->children.push_back(std::move(index));
        node = std::move(indexer);
      } else {
        return node;
      }
    }
  }

  // name or name(args) applied to `target` (null: the focus).
  Result<NodePtr> Invocation(const Token& name, NodePtr target) {
    auto node = std::make_unique<Node>();
    node->name = name.text;
    node->position = name.position;
    if (name.kind == Token::Kind::kIdentifier && IsSymbol("(")) {
      Next();
      node->kind = Node::Kind::kFunction;
      node->children.push_back(std::move(target));
      if (!IsSymbol(")")) {
        while (true) {
          MA_ASSIGN_OR_RETURN(NodePtr arg, Expression(0));
          node->children.push_back(std::move(arg));
          if (IsSymbol(",")) {
            Next();
            continue;
          }
          break;
        }
      }
      MA_RETURN_IF_ERROR(Expect(")"));
      return node;
    }
    node->kind = Node::Kind::kMember;
    if (target)
      node->children.push_back(std::move(target));
    return node;
  }

  Result<NodePtr> Term() {
    const Token& token = Peek();
    auto node = std::make_unique<Node>();
    node->position = token.position;
    switch (token.kind) {
      case Token::Kind::kEnd:
        return SyntaxError(token.position, "unexpected end of expression");
      case Token::Kind::kString:
        node->literal = Item::String(Next().text);
        return node;
      case Token::Kind::kNumber: {
        std::string text = Next().text;
        // A quantity: number followed by a unit string or a calendar keyword.
        if (Peek().kind == Token::Kind::kString || (Peek().kind == Token::Kind::kIdentifier &&
                                                    !internal::CalendarUnit(Peek().text).empty())) {
          Quantity quantity;
          quantity.value = *internal::ParseDecimal(text);
          if (Peek().kind == Token::Kind::kString) {
            quantity.unit = Next().text;
          } else {
            quantity.unit = std::string(internal::CalendarUnit(Next().text));
            quantity.calendar = true;
          }
          node->literal = Item::MakeQuantity(std::move(quantity));
          return node;
        }
        if (text.find('.') == std::string::npos) {
          auto value = internal::ParseInteger(text);
          if (!value) {
            node->literal = Item::MakeDecimal(*internal::ParseDecimal(text));
          } else {
            node->literal = Item::Integer(*value);
          }
        } else {
          node->literal = Item::MakeDecimal(*internal::ParseDecimal(text));
        }
        return node;
      }
      case Token::Kind::kDate: {
        auto value = internal::ParseDate(token.text);
        if (!value)
          return SyntaxError(token.position, "invalid date @" + token.text);
        Next();
        node->literal = Item::Date(*value);
        return node;
      }
      case Token::Kind::kDateTime: {
        auto value = internal::ParseDateTime(token.text);
        if (!value)
          return SyntaxError(token.position, "invalid dateTime @" + token.text);
        Next();
        node->literal = Item::DateTime(*value);
        return node;
      }
      case Token::Kind::kTime: {
        auto value = internal::ParseTime(token.text);
        if (!value)
          return SyntaxError(token.position, "invalid time @T" + token.text);
        Next();
        node->literal = Item::Time(*value);
        return node;
      }
      case Token::Kind::kSpecial:
        node->kind = token.text == "this"    ? Node::Kind::kThis
                     : token.text == "index" ? Node::Kind::kIndex
                                             : Node::Kind::kTotal;
        Next();
        return node;
      case Token::Kind::kExternal:
        node->kind = Node::Kind::kVariable;
        node->name = Next().text;
        return node;
      case Token::Kind::kIdentifier:
        if (token.text == "true" || token.text == "false") {
          node->literal = Item::Boolean(Next().text == "true");
          return node;
        }
        [[fallthrough]];
      case Token::Kind::kDelimitedIdentifier: {
        Token name = Next();
        return Invocation(name, nullptr);
      }
      case Token::Kind::kSymbol:
        if (token.text == "(") {
          Next();
          MA_ASSIGN_OR_RETURN(NodePtr inner, Expression(0));
          MA_RETURN_IF_ERROR(Expect(")"));
          return inner;
        }
        if (token.text == "{") {
          Next();
          MA_RETURN_IF_ERROR(Expect("}"));
          node->kind = Node::Kind::kEmpty;
          return node;
        }
        return SyntaxError(token.position, "unexpected '" + token.text + "'");
    }
    return SyntaxError(token.position, "unexpected token");
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
};

}  // namespace

core::Result<Expression> Parse(std::string_view text) {
  Lexer lexer(text);
  MA_ASSIGN_OR_RETURN(std::vector<Token> tokens, lexer.Run());
  Parser parser(std::move(tokens));
  MA_ASSIGN_OR_RETURN(std::unique_ptr<Node> root, parser.ParseAll());
  Expression expression;
  expression.text_ = std::string(text);
  expression.root_ = std::shared_ptr<const Node>(std::move(root));
  return expression;
}

}  // namespace medalliance::fhir::fhirpath
