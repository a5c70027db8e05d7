//! Keys from the bytes a terminal sends: control characters, the escape sequences of arrows and Home/End/Delete (both the `ESC [` and `ESC O` forms), and UTF-8 text, whatever way the bytes are cut into reads.

/// One key, as the line editor acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character to insert.
    Char(char),
    Enter,
    Tab,
    Backspace,
    Delete,
    Left,
    Right,
    /// Ctrl-Left or Alt-B.
    WordLeft,
    /// Ctrl-Right or Alt-F.
    WordRight,
    Home,
    End,
    Up,
    Down,
    /// Ctrl-U.
    KillToStart,
    /// Ctrl-K.
    KillToEnd,
    /// Ctrl-W.
    KillWordBefore,
    /// Ctrl-L.
    ClearScreen,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-D: the end of input on an empty line, Delete otherwise.
    CtrlD,
    /// A key or sequence the editor does nothing with.
    Ignored,
}

/// Where the parser is within a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Escape,
    /// After `ESC [`: the parameter bytes so far.
    Csi(Vec<u8>),
    /// After `ESC O`.
    Ss3,
    /// Inside a sequence too long to be one we know: skipped to its last byte.
    Skipping,
    /// Inside a UTF-8 character: its bytes so far and how many it has.
    Utf8(Vec<u8>, usize),
}

/// Longest escape sequence kept; anything longer is not one we know.
const MAX_SEQUENCE: usize = 16;

/// Turns bytes into [`Key`]s, one byte at a time.
#[derive(Debug)]
pub struct KeyParser {
    state: State,
}

impl Default for KeyParser {
    fn default() -> Self {
        KeyParser::new()
    }
}

impl KeyParser {
    pub fn new() -> KeyParser {
        KeyParser {
            state: State::Ground,
        }
    }

    /// The key this byte completes, if it completes one.
    pub fn push(&mut self, byte: u8) -> Option<Key> {
        match std::mem::replace(&mut self.state, State::Ground) {
            State::Ground => self.ground(byte),
            State::Escape => match byte {
                b'[' => {
                    self.state = State::Csi(Vec::new());
                    None
                }
                b'O' => {
                    self.state = State::Ss3;
                    None
                }
                b'b' => Some(Key::WordLeft),
                b'f' => Some(Key::WordRight),
                0x7f | 0x08 => Some(Key::KillWordBefore),
                // ESC ESC: the first was a lone Escape; start again.
                0x1b => {
                    self.state = State::Escape;
                    None
                }
                _ => Some(Key::Ignored),
            },
            State::Csi(mut params) => match byte {
                0x20..=0x3f if params.len() < MAX_SEQUENCE => {
                    params.push(byte);
                    self.state = State::Csi(params);
                    None
                }
                0x20..=0x3f => {
                    self.state = State::Skipping;
                    None
                }
                0x40..=0x7e => Some(csi(&params, byte)),
                _ => Some(Key::Ignored),
            },
            State::Skipping => match byte {
                0x20..=0x3f => {
                    self.state = State::Skipping;
                    None
                }
                _ => Some(Key::Ignored),
            },
            State::Ss3 => Some(match byte {
                b'A' => Key::Up,
                b'B' => Key::Down,
                b'C' => Key::Right,
                b'D' => Key::Left,
                b'H' => Key::Home,
                b'F' => Key::End,
                _ => Key::Ignored,
            }),
            State::Utf8(mut bytes, len) => {
                if byte & 0xc0 != 0x80 {
                    // Not a continuation: the character was broken; this byte starts anew.
                    return self.ground(byte).or(Some(Key::Ignored));
                }
                bytes.push(byte);
                if bytes.len() < len {
                    self.state = State::Utf8(bytes, len);
                    return None;
                }
                Some(
                    std::str::from_utf8(&bytes)
                        .ok()
                        .and_then(|s| s.chars().next())
                        .map_or(Key::Ignored, Key::Char),
                )
            }
        }
    }

    fn ground(&mut self, byte: u8) -> Option<Key> {
        Some(match byte {
            0x01 => Key::Home,
            0x02 => Key::Left,
            0x03 => Key::Interrupt,
            0x04 => Key::CtrlD,
            0x05 => Key::End,
            0x06 => Key::Right,
            0x08 | 0x7f => Key::Backspace,
            b'\t' => Key::Tab,
            b'\n' | b'\r' => Key::Enter,
            0x0b => Key::KillToEnd,
            0x0c => Key::ClearScreen,
            0x0e => Key::Down,
            0x10 => Key::Up,
            0x15 => Key::KillToStart,
            0x17 => Key::KillWordBefore,
            0x1b => {
                self.state = State::Escape;
                return None;
            }
            0x00..=0x1f => Key::Ignored,
            0x20..=0x7e => Key::Char(byte as char),
            0xc2..=0xf4 => {
                let len = match byte {
                    0xc2..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                self.state = State::Utf8(vec![byte], len);
                return None;
            }
            _ => Key::Ignored,
        })
    }
}

/// The key of `ESC [ params final`.
fn csi(params: &[u8], last: u8) -> Key {
    // Ctrl or Alt with an arrow: `ESC [ 1 ; 5 C`.
    let modified = params.contains(&b';');
    match (params, last) {
        (_, b'A') => Key::Up,
        (_, b'B') => Key::Down,
        (_, b'C') if modified => Key::WordRight,
        (_, b'D') if modified => Key::WordLeft,
        (_, b'C') => Key::Right,
        (_, b'D') => Key::Left,
        (_, b'H') => Key::Home,
        (_, b'F') => Key::End,
        (b"1" | b"7", b'~') => Key::Home,
        (b"4" | b"8", b'~') => Key::End,
        (b"3", b'~') => Key::Delete,
        _ => Key::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut p = KeyParser::new();
        bytes.iter().filter_map(|&b| p.push(b)).collect()
    }

    #[test]
    fn control_keys_and_text() {
        assert_eq!(
            keys(b"a\x01\x05\x15\x0b\x17\x0c\x03\x04\x7f\t\r"),
            [
                Key::Char('a'),
                Key::Home,
                Key::End,
                Key::KillToStart,
                Key::KillToEnd,
                Key::KillWordBefore,
                Key::ClearScreen,
                Key::Interrupt,
                Key::CtrlD,
                Key::Backspace,
                Key::Tab,
                Key::Enter
            ]
        );
        assert_eq!(
            keys("文件 é".as_bytes()),
            [
                Key::Char('文'),
                Key::Char('件'),
                Key::Char(' '),
                Key::Char('é')
            ]
        );
    }

    #[test]
    fn escape_sequences_in_both_forms() {
        assert_eq!(
            keys(b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1bOD"),
            [
                Key::Up,
                Key::Down,
                Key::Right,
                Key::Left,
                Key::Up,
                Key::Left
            ]
        );
        assert_eq!(
            keys(b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1bOH\x1bOF\x1b[3~"),
            [
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Home,
                Key::End,
                Key::Delete
            ]
        );
        assert_eq!(
            keys(b"\x1b[1;5C\x1b[1;5D\x1bb\x1bf"),
            [Key::WordRight, Key::WordLeft, Key::WordLeft, Key::WordRight]
        );
        // Unknown sequences are swallowed whole, not typed.
        assert_eq!(keys(b"\x1b[15~x"), [Key::Ignored, Key::Char('x')]);
        assert_eq!(keys(b"\x1b[200~"), [Key::Ignored]);
    }

    #[test]
    fn a_sequence_cut_across_reads_still_parses() {
        let mut p = KeyParser::new();
        assert_eq!(p.push(0x1b), None);
        assert_eq!(p.push(b'['), None);
        assert_eq!(p.push(b'D'), Some(Key::Left));
        let bytes = "中".as_bytes();
        assert_eq!(p.push(bytes[0]), None);
        assert_eq!(p.push(bytes[1]), None);
        assert_eq!(p.push(bytes[2]), Some(Key::Char('中')));
    }

    #[test]
    fn broken_utf8_is_ignored_not_typed() {
        assert_eq!(keys(b"\xe4a"), [Key::Char('a')]);
        assert_eq!(keys(b"\xff"), [Key::Ignored]);
        // A sequence far too long is not kept growing.
        let mut long = b"\x1b[".to_vec();
        long.extend([b'1'; 40]);
        long.push(b'x');
        assert_eq!(keys(&long), [Key::Ignored]);
    }
}
