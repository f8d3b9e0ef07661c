//! Inline SVG: a source's strip of recent polls and a watch's alerts per day. Built here,
//! with every text escaped, and marked safe for the templates.

use crate::store::PollMark;
use crate::text::escape_html;
use crate::time::iso;

/// One cell per poll, oldest left: green ok, grey not modified, red error; hovering shows
/// when and what.
pub(super) fn poll_strip(marks: &[PollMark]) -> String {
    const W: usize = 6;
    let mut out = format!(
        "<svg class=\"strip\" width=\"{}\" height=\"14\" viewBox=\"0 0 {} 14\" role=\"img\" aria-label=\"last {} polls\">",
        50 * W,
        50 * W,
        marks.len()
    );
    for (i, m) in marks.iter().enumerate() {
        let class = match m.result {
            "ok" => "ok",
            "not modified" => "nm",
            _ => "err",
        };
        out.push_str(&format!(
            "<rect class=\"{class}\" x=\"{}\" y=\"1\" width=\"{}\" height=\"12\"><title>{} {}: {}</title></rect>",
            i * W,
            W - 1,
            escape_html(&iso(m.at)),
            m.result,
            escape_html(&m.detail)
        ));
    }
    out.push_str("</svg>");
    out
}

/// A bar per day over `days` days ending with `last_day` (days since the epoch), from
/// `(day, count)` pairs.
pub(super) fn day_chart(counts: &[(i64, i64)], last_day: i64, days: i64) -> String {
    const BAR: i64 = 10;
    const H: i64 = 40;
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    let width = days * BAR;
    let mut out = format!(
        "<svg class=\"chart\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\" role=\"img\" aria-label=\"alerts per day, last {days} days\">",
        H + 2,
        H + 2
    );
    out.push_str(&format!(
        "<line x1=\"0\" y1=\"{H}\" x2=\"{width}\" y2=\"{H}\" class=\"axis\"/>"
    ));
    for i in 0..days {
        let day = last_day - (days - 1 - i);
        let n = counts.iter().find(|c| c.0 == day).map_or(0, |c| c.1);
        let h = if n == 0 { 0 } else { (n * H / max).max(2) };
        let date = iso(day * 86_400_000);
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{}: {n}</title></rect>",
            i * BAR,
            H - h,
            BAR - 2,
            escape_html(date.get(..10).unwrap_or(&date))
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_charts_escape_what_they_show() {
        let marks = [PollMark {
            at: 0,
            result: "error",
            detail: "<script>alert(1)</script>".into(),
        }];
        let svg = poll_strip(&marks);
        assert!(svg.contains("class=\"err\"") && svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        let chart = day_chart(&[(100, 4), (99, 2)], 100, 30);
        assert_eq!(chart.matches("<rect").count(), 30);
        assert!(chart.contains("height=\"40\"><title>1970-04-11: 4"));
    }
}
