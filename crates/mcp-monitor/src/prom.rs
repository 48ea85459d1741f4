//! Writing the Prometheus text exposition format, version 0.0.4.

use std::fmt::Write;

/// The `Content-Type` of [`crate::SecurityMonitor::render_metrics`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `# HELP` and `# TYPE` lines. HELP text escapes `\` and newline.
pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// One sample line: `name{l1="v1",l2="v2"} value`. Label values escape `\`, `"` and newline.
pub(crate) fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            escape_label(out, v);
            out.push('"');
        }
        out.push('}');
    }
    // Writing to a String cannot fail.
    let _ = writeln!(out, " {value}");
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as Prometheus expects it (`+Inf`, `NaN`, plain decimals otherwise).
pub(crate) fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_help_and_labels() {
        let mut out = String::new();
        header(&mut out, "m_total", "counter", "a \\ b\nc");
        sample(&mut out, "m_total", &[("k", "x\"y\\z\nw"), ("j", "v")], 3);
        sample(&mut out, "m_total", &[], 0);
        assert_eq!(
            out,
            "# HELP m_total a \\\\ b\\nc\n# TYPE m_total counter\nm_total{k=\"x\\\"y\\\\z\\nw\",j=\"v\"} 3\nm_total 0\n"
        );
    }

    #[test]
    fn floats() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(0.0005), "0.0005");
        assert_eq!(float(1.0), "1");
    }
}
