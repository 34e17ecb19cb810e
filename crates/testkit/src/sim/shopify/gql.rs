//! A small GraphQL executor for the Shopify simulator, written for the simulator (it shares no
//! code with the connector): a parser for the query subset Admin API clients send (operations
//! with variable definitions, aliases, arguments, directives, inline fragments), Shopify's
//! calculated query cost, and projection of resolved JSON onto a selection set (so a field the
//! simulated schema lacks is an error, as on Shopify).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// An argument or directive value before variables are substituted.
#[derive(Clone, Debug, PartialEq)]
pub enum GValue {
    /// `$name`.
    Var(String),
    /// A literal already in JSON form (numbers, strings, booleans, null, enum names).
    Literal(Value),
    /// `[…]`.
    List(Vec<GValue>),
    /// `{k: v}`.
    Object(Vec<(String, GValue)>),
}

impl GValue {
    /// Substitutes variables.
    pub fn resolve(&self, vars: &Value) -> Value {
        match self {
            GValue::Var(name) => vars.get(name).cloned().unwrap_or(Value::Null),
            GValue::Literal(v) => v.clone(),
            GValue::List(items) => Value::Array(items.iter().map(|i| i.resolve(vars)).collect()),
            GValue::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.resolve(vars)))
                    .collect(),
            ),
        }
    }
}

/// `@name(args)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// Directive name.
    pub name: String,
    /// Arguments.
    pub args: Vec<(String, GValue)>,
}

/// A field selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Alias, if any.
    pub alias: Option<String>,
    /// Field name.
    pub name: String,
    /// Arguments.
    pub args: Vec<(String, GValue)>,
    /// Directives.
    pub directives: Vec<Directive>,
    /// Sub-selection (empty for scalars).
    pub selection: Vec<Selection>,
}

impl Field {
    /// The key in the response.
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// An argument with variables substituted.
    pub fn arg(&self, name: &str, vars: &Value) -> Value {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .map_or(Value::Null, |(_, v)| v.resolve(vars))
    }

    /// A directive by name.
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }
}

/// A selection.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// A field.
    Field(Field),
    /// `... on Type { … }`.
    Inline {
        /// The type condition.
        on: Option<String>,
        /// Its selection.
        selection: Vec<Selection>,
    },
}

/// Query or mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `query`.
    Query,
    /// `mutation`.
    Mutation,
}

/// A parsed operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// Kind.
    pub kind: OpKind,
    /// Root selection.
    pub selection: Vec<Selection>,
}

impl Operation {
    /// The root fields.
    pub fn root_fields(&self) -> impl Iterator<Item = &Field> {
        self.selection.iter().filter_map(|s| match s {
            Selection::Field(f) => Some(f),
            Selection::Inline { .. } => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Punct(char),
    Spread,
    Str(String),
    Num(String),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' || c == '\u{feff}' {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '.' {
            if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                out.push(Tok::Spread);
                i += 3;
            } else {
                return Err(format!("Parse error on \".\" at {i}"));
            }
        } else if "{}()[]:$!=@".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("Parse error: unterminated string".into()),
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => {
                        let e = chars.get(i + 1).copied().unwrap_or('\\');
                        s.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else if c == '-' || c.is_ascii_digit() {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-'))
            {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '_' || c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(Tok::Name(chars[start..i].iter().collect()));
        } else {
            return Err(format!("Parse error on \"{c}\""));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "Parse error: expected \"{c}\", got {:?}",
                self.peek()
            ))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Name(n)) => Ok(n),
            other => Err(format!("Parse error: expected a name, got {other:?}")),
        }
    }

    fn skip_balanced(&mut self, open: char, close: char) -> Result<(), String> {
        self.expect(open)?;
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                Some(Tok::Punct(c)) if c == open => depth += 1,
                Some(Tok::Punct(c)) if c == close => depth -= 1,
                Some(_) => {}
                None => return Err("Parse error: unbalanced brackets".into()),
            }
        }
        Ok(())
    }

    fn value(&mut self) -> Result<GValue, String> {
        match self.next() {
            Some(Tok::Punct('$')) => Ok(GValue::Var(self.name()?)),
            Some(Tok::Str(s)) => Ok(GValue::Literal(Value::String(s))),
            Some(Tok::Num(n)) => {
                let v: Value =
                    serde_json::from_str(&n).map_err(|_| format!("Parse error: bad number {n}"))?;
                Ok(GValue::Literal(v))
            }
            Some(Tok::Name(n)) => Ok(GValue::Literal(match n.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => Value::String(n),
            })),
            Some(Tok::Punct('[')) => {
                let mut items = Vec::new();
                while !self.eat(']') {
                    items.push(self.value()?);
                }
                Ok(GValue::List(items))
            }
            Some(Tok::Punct('{')) => {
                let mut fields = Vec::new();
                while !self.eat('}') {
                    let k = self.name()?;
                    self.expect(':')?;
                    fields.push((k, self.value()?));
                }
                Ok(GValue::Object(fields))
            }
            other => Err(format!("Parse error: unexpected {other:?} in a value")),
        }
    }

    fn args(&mut self) -> Result<Vec<(String, GValue)>, String> {
        let mut args = Vec::new();
        if self.eat('(') {
            while !self.eat(')') {
                let k = self.name()?;
                self.expect(':')?;
                args.push((k, self.value()?));
            }
        }
        Ok(args)
    }

    fn directives(&mut self) -> Result<Vec<Directive>, String> {
        let mut out = Vec::new();
        while self.eat('@') {
            let name = self.name()?;
            let args = self.args()?;
            out.push(Directive { name, args });
        }
        Ok(out)
    }

    fn selection_set(&mut self) -> Result<Vec<Selection>, String> {
        self.expect('{')?;
        let mut out = Vec::new();
        while !self.eat('}') {
            if self.peek() == Some(&Tok::Spread) {
                self.pos += 1;
                let on = if self.peek() == Some(&Tok::Name("on".into())) {
                    self.pos += 1;
                    Some(self.name()?)
                } else {
                    return Err("named fragments are not supported by the simulator".into());
                };
                let _ = self.directives()?;
                out.push(Selection::Inline {
                    on,
                    selection: self.selection_set()?,
                });
                continue;
            }
            let first = self.name()?;
            let (alias, name) = if self.eat(':') {
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let args = self.args()?;
            let directives = self.directives()?;
            let selection = if self.peek() == Some(&Tok::Punct('{')) {
                self.selection_set()?
            } else {
                Vec::new()
            };
            out.push(Selection::Field(Field {
                alias,
                name,
                args,
                directives,
                selection,
            }));
        }
        Ok(out)
    }
}

/// Parses one operation.
pub fn parse(src: &str) -> Result<Operation, String> {
    let mut p = Parser {
        toks: lex(src)?,
        pos: 0,
    };
    let kind = match p.peek() {
        Some(Tok::Name(n)) if n == "query" => OpKind::Query,
        Some(Tok::Name(n)) if n == "mutation" => OpKind::Mutation,
        Some(Tok::Punct('{')) => {
            let selection = p.selection_set()?;
            return Ok(Operation {
                kind: OpKind::Query,
                selection,
            });
        }
        other => return Err(format!("Parse error on {other:?}")),
    };
    p.pos += 1;
    if matches!(p.peek(), Some(Tok::Name(_))) {
        p.pos += 1;
    }
    if p.peek() == Some(&Tok::Punct('(')) {
        p.skip_balanced('(', ')')?;
    }
    let _ = p.directives()?;
    let selection = p.selection_set()?;
    if p.pos < p.toks.len() {
        return Err("Parse error: only one operation per document is supported".into());
    }
    Ok(Operation { kind, selection })
}

fn first_arg(f: &Field, vars: &Value) -> Option<u64> {
    f.arg("first", vars)
        .as_u64()
        .or_else(|| f.arg("last", vars).as_u64())
}

fn is_connection(sel: &[Selection]) -> bool {
    sel.iter()
        .any(|s| matches!(s, Selection::Field(f) if f.name == "nodes" || f.name == "edges"))
}

/// The selection of one node of a connection field.
fn node_selection(sel: &[Selection]) -> Vec<&Selection> {
    let mut out = Vec::new();
    for s in sel {
        if let Selection::Field(f) = s {
            if f.name == "nodes" {
                out.extend(f.selection.iter());
            } else if f.name == "edges" {
                for e in &f.selection {
                    if let Selection::Field(n) = e {
                        if n.name == "node" {
                            out.extend(n.selection.iter());
                        }
                    }
                }
            }
        }
    }
    out
}

fn selection_cost(sel: &[&Selection], vars: &Value) -> u64 {
    sel.iter()
        .map(|s| match s {
            Selection::Field(f) => field_cost(f, vars),
            Selection::Inline { selection, .. } => {
                selection_cost(&selection.iter().collect::<Vec<_>>(), vars)
            }
        })
        .sum()
}

/// Shopify's requested cost of a field: scalars 0, objects 1 + children, connections (and
/// lists taking `first`) 2 + first × (1 + children of one node); `pageInfo` is free.
pub fn field_cost(f: &Field, vars: &Value) -> u64 {
    if f.selection.is_empty() || f.name == "pageInfo" {
        return 0;
    }
    match first_arg(f, vars) {
        Some(n) => {
            let per_node = if is_connection(&f.selection) {
                1 + selection_cost(&node_selection(&f.selection), vars)
            } else {
                1 + selection_cost(&f.selection.iter().collect::<Vec<_>>(), vars)
            };
            2 + n * per_node
        }
        None => 1 + selection_cost(&f.selection.iter().collect::<Vec<_>>(), vars),
    }
}

/// Requested cost of an operation (a mutation's root field costs 10).
pub fn requested_cost(op: &Operation, vars: &Value) -> u64 {
    op.root_fields()
        .map(|f| match op.kind {
            OpKind::Mutation => 10,
            OpKind::Query => field_cost(f, vars),
        })
        .sum()
}

/// Actual cost: the requested rules with the number of nodes actually returned.
pub fn actual_cost(sel: &[Selection], value: &Value, vars: &Value) -> u64 {
    let mut total = 0;
    for s in sel {
        match s {
            Selection::Inline { selection, .. } => total += actual_cost(selection, value, vars),
            Selection::Field(f) => {
                if f.selection.is_empty() || f.name == "pageInfo" {
                    continue;
                }
                let v = value.get(f.key()).unwrap_or(&Value::Null);
                total += match v {
                    Value::Null => 1,
                    Value::Array(items) if first_arg(f, vars).is_some() => {
                        2 + items
                            .iter()
                            .map(|i| 1 + actual_cost(&f.selection, i, vars))
                            .sum::<u64>()
                    }
                    Value::Array(items) => {
                        1 + items
                            .iter()
                            .map(|i| actual_cost(&f.selection, i, vars))
                            .max()
                            .unwrap_or(0)
                    }
                    Value::Object(o) if o.contains_key("nodes") || o.contains_key("edges") => {
                        let nodes = o
                            .get("nodes")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        let node_sel: Vec<Selection> =
                            node_selection(&f.selection).into_iter().cloned().collect();
                        2 + nodes
                            .iter()
                            .map(|n| 1 + actual_cost(&node_sel, n, vars))
                            .sum::<u64>()
                    }
                    other => 1 + actual_cost(&f.selection, other, vars),
                };
            }
        }
    }
    total
}

/// A cursor for position `index` of a nested connection.
pub fn index_cursor(index: usize) -> String {
    STANDARD.encode(format!("{{\"index\":{index}}}"))
}

fn parse_index_cursor(c: &str) -> Option<usize> {
    let bytes = STANDARD.decode(c).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("index")?.as_u64().map(|n| n as usize)
}

/// Projects a resolved value onto a selection. Connections (objects with `nodes`) are paged
/// with the field's `first`/`after` unless marked `"__paged"`; lists taking `first` are cut.
pub fn project(value: &Value, sel: &[Selection], vars: &Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|i| project(i, sel, vars))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(obj) => {
            let typename = obj
                .get("__typename")
                .and_then(Value::as_str)
                .unwrap_or("Object")
                .to_owned();
            let mut out = Map::new();
            project_into(obj, &typename, sel, vars, &mut out)?;
            Ok(Value::Object(out))
        }
        scalar => Ok(scalar.clone()),
    }
}

fn project_into(
    obj: &Map<String, Value>,
    typename: &str,
    sel: &[Selection],
    vars: &Value,
    out: &mut Map<String, Value>,
) -> Result<(), String> {
    for s in sel {
        match s {
            Selection::Inline { on, selection } => {
                if on.as_deref().is_none_or(|t| t == typename) {
                    project_into(obj, typename, selection, vars, out)?;
                }
            }
            Selection::Field(f) => {
                if f.name == "__typename" {
                    out.insert(f.key().to_owned(), Value::String(typename.to_owned()));
                    continue;
                }
                let Some(v) = obj.get(&f.name) else {
                    return Err(format!(
                        "Field '{}' doesn't exist on type '{typename}'",
                        f.name
                    ));
                };
                if f.selection.is_empty() {
                    if v.is_object()
                        || (v.is_array()
                            && v.as_array().is_some_and(|a| a.iter().any(Value::is_object)))
                    {
                        return Err(format!(
                            "Field must have selections (field '{}' returns {typename}'s object)",
                            f.name
                        ));
                    }
                    out.insert(f.key().to_owned(), v.clone());
                    continue;
                }
                let paged = page_value(v, f, vars)?;
                out.insert(f.key().to_owned(), project(&paged, &f.selection, vars)?);
            }
        }
    }
    Ok(())
}

fn page_value(v: &Value, f: &Field, vars: &Value) -> Result<Value, String> {
    let first = first_arg(f, vars).map(|n| n as usize);
    match v {
        Value::Object(o) if o.contains_key("nodes") && !o.contains_key("__paged") => {
            let nodes = o
                .get("nodes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let start = match f.arg("after", vars).as_str() {
                Some(c) => parse_index_cursor(c).ok_or("Invalid cursor")? + 1,
                None => 0,
            };
            let n = first.unwrap_or(nodes.len());
            let end = (start + n).min(nodes.len());
            let slice: Vec<Value> = nodes
                .get(start..end)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            let edges: Vec<Value> = slice
                .iter()
                .enumerate()
                .map(|(i, node)| serde_json::json!({"cursor": index_cursor(start + i), "node": node}))
                .collect();
            let mut m = o.clone();
            m.insert("nodes".into(), Value::Array(slice));
            m.insert("edges".into(), Value::Array(edges));
            m.insert(
                "pageInfo".into(),
                serde_json::json!({
                    "hasNextPage": end < nodes.len(),
                    "hasPreviousPage": start > 0,
                    "endCursor": if end > start { Value::String(index_cursor(end - 1)) } else { Value::Null },
                    "startCursor": if end > start { Value::String(index_cursor(start)) } else { Value::Null },
                }),
            );
            Ok(Value::Object(m))
        }
        Value::Array(items) => Ok(match first {
            Some(n) => Value::Array(items.iter().take(n).cloned().collect()),
            None => v.clone(),
        }),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_costs_and_projects() {
        let q = r#"query Q($first: Int!, $after: String) {
            orders(first: $first, after: $after, query: "updated_at:>='2024-01-01'") {
              nodes { id total: totalPriceSet { shopMoney { amount } }
                lineItems(first: 2) { nodes { id } pageInfo { hasNextPage endCursor } }
                app { __typename ... on DiscountCodeApplication { code } ... on Other { title } } }
              pageInfo { hasNextPage endCursor }
            } }"#;
        let op = parse(q).unwrap();
        assert_eq!(op.kind, OpKind::Query);
        let vars = json!({"first": 3});
        // orders: 2 + 3 × (1 + totalPriceSet(1 + shopMoney 1) + lineItems(2 + 2×1) + app 1) = 2 + 3 × 8
        assert_eq!(requested_cost(&op, &vars), 26);
        let orders = op.root_fields().next().unwrap();
        let order = json!({"__typename": "Order", "id": "gid://shopify/Order/1",
            "totalPriceSet": {"shopMoney": {"amount": "1.00", "currencyCode": "USD"}},
            "lineItems": {"nodes": [{"id": "a"}, {"id": "b"}, {"id": "c"}]},
            "app": {"__typename": "DiscountCodeApplication", "code": "X", "title": "t"}});
        let conn = json!({"__paged": true, "nodes": [order], "pageInfo": {"hasNextPage": false, "endCursor": null}});
        let out = project(&conn, &orders.selection, &vars).unwrap();
        let node = &out["nodes"][0];
        assert_eq!(node["total"]["shopMoney"], json!({"amount": "1.00"}));
        assert_eq!(node["lineItems"]["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(node["lineItems"]["pageInfo"]["hasNextPage"], json!(true));
        assert_eq!(
            node["app"],
            json!({"__typename": "DiscountCodeApplication", "code": "X"})
        );
        let bad = parse("{ orders(first: 1) { nodes { nope } } }").unwrap();
        let f = bad.root_fields().next().unwrap();
        let err = project(&conn, &f.selection, &json!({})).unwrap_err();
        assert!(
            err.contains("Field 'nope' doesn't exist on type 'Order'"),
            "{err}"
        );
    }

    #[test]
    fn mutations_and_directives() {
        let op = parse(r#"mutation M($input: In!, $k: String!) { inventorySetQuantities(input: $input) @idempotent(key: $k) { userErrors { code } } }"#).unwrap();
        assert_eq!(op.kind, OpKind::Mutation);
        let f = op.root_fields().next().unwrap();
        let d = f.directive("idempotent").unwrap();
        assert_eq!(d.args[0].1.resolve(&json!({"k": "abc"})), json!("abc"));
        assert_eq!(requested_cost(&op, &json!({})), 10);
    }
}
