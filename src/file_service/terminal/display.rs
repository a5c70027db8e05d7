//! How a line is shown: each character's width in terminal columns, and the one row that shows the prompt and the line, scrolled sideways when it is wider than the terminal (so a redraw never has to know how rows wrapped).

use super::line::EditLine;

/// Columns a character takes: 2 for the wide East Asian ranges (Chinese,
/// Japanese, Korean, full-width forms, most emoji), 0 for combining marks
/// and zero-width characters, 1 otherwise.
pub fn width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036f | 0x200b..=0x200f | 0xfe00..=0xfe0f => 0,
        0x1100..=0x115f
        | 0x2e80..=0x303e
        | 0x3041..=0x33ff
        | 0x3400..=0x4dbf
        | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x1f300..=0x1f64f
        | 0x1f900..=0x1f9ff
        | 0x20000..=0x3fffd => 2,
        _ => 1,
    }
}

/// Columns a text takes.
pub fn text_width(text: &str) -> usize {
    text.chars().map(width).sum()
}

fn chars_width(chars: &[char]) -> usize {
    chars.iter().copied().map(width).sum()
}

/// The bytes that redraw the prompt's row: back to column 0, the prompt, the
/// part of the line that fits, the rest of the row cleared, and the cursor
/// put back in place. `offset` is the first character shown; it moves only
/// as far as it must to keep the cursor on screen.
pub fn render(prompt: &str, line: &EditLine, columns: usize, offset: &mut usize) -> String {
    let chars = line.chars();
    let cursor = line.cursor();
    // One column is left free: writing the last one makes some terminals wrap.
    let room = columns.saturating_sub(text_width(prompt) + 1).max(8);
    if chars_width(&chars[..cursor]) <= room {
        *offset = 0;
    }
    *offset = (*offset).min(cursor);
    while chars_width(&chars[*offset..cursor]) > room {
        *offset += 1;
    }
    let mut shown = String::new();
    let mut used = 0;
    for &c in &chars[*offset..] {
        used += width(c);
        if used > room {
            break;
        }
        shown.push(c);
    }
    let mut out = format!("\r{prompt}{shown}\x1b[K\r");
    let column = text_width(prompt) + chars_width(&chars[*offset..cursor]);
    if column > 0 {
        out.push_str(&format!("\x1b[{column}C"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, cursor: usize) -> EditLine {
        let mut l = EditLine::with_text(text);
        l.home();
        for _ in 0..cursor {
            l.right();
        }
        l
    }

    #[test]
    fn widths() {
        assert_eq!(width('a'), 1);
        assert_eq!(width('文'), 2);
        assert_eq!(width('\u{301}'), 0);
        assert_eq!(text_width("file> 文件"), 10);
    }

    #[test]
    fn a_short_line_is_drawn_whole_with_the_cursor_in_place() {
        let mut offset = 0;
        assert_eq!(
            render("file> ", &line("get a", 5), 80, &mut offset),
            "\rfile> get a\x1b[K\r\x1b[11C"
        );
        assert_eq!(
            render("file> ", &line("get 文件", 5), 80, &mut offset),
            "\rfile> get 文件\x1b[K\r\x1b[12C"
        );
        assert_eq!(render("", &line("", 0), 80, &mut offset), "\r\x1b[K\r");
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_on_screen() {
        let long: String = ('a'..='z').cycle().take(60).collect();
        let mut offset = 0;
        // 20 columns, 6 for the prompt, 1 kept free: 13 for the line.
        let drawn = render("file> ", &line(&long, 60), 20, &mut offset);
        assert_eq!(offset, 47);
        assert!(
            drawn.starts_with(&format!("\rfile> {}\x1b[K", &long[47..])),
            "{drawn:?}"
        );
        // Back to the start: the view follows.
        let drawn = render("file> ", &line(&long, 0), 20, &mut offset);
        assert_eq!(offset, 0);
        assert!(
            drawn.starts_with(&format!("\rfile> {}\x1b[K", &long[..13])),
            "{drawn:?}"
        );
        assert!(drawn.ends_with("\r\x1b[6C"), "{drawn:?}");
    }
}
