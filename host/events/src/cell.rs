//! One value of an event as read from a table or a request.

/// One value of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// An empty CSV cell or a Parquet null.
    Missing,
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    /// Milliseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

impl Cell {
    /// The cell as CSV text: empty when missing, timestamps in RFC 3339.
    pub fn to_text(&self) -> String {
        match self {
            Cell::Missing => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Integer(i) => i.to_string(),
            Cell::Number(x) => x.to_string(),
            Cell::Boolean(b) => b.to_string(),
            Cell::Timestamp(ms) => edgescore_models::transform::format_rfc3339_ms(*ms),
        }
    }
}
