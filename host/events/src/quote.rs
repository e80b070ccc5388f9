//! Names and values from a user's input, as error messages show them.

/// A cell in quotes for a message, cut after 40 characters so a huge cell
/// does not flood the terminal.
pub fn quoted(cell: &str) -> String {
    const SHOWN: usize = 40;
    match cell.char_indices().nth(SHOWN) {
        None => format!("'{cell}'"),
        Some((cut, _)) => format!(
            "'{}...' ({} characters)",
            &cell[..cut],
            cell.chars().count()
        ),
    }
}
