//! `timeline.svg`, written by hand: time on the x axis; a band per fault
//! across every lane; a lane for acknowledgements (red where the cluster
//! acknowledged no submission while some were attempted, also shaded
//! across every lane); a lane for "no leader"; a lane per controller
//! showing when it claimed to lead, coloured by term.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::measures::Measures;
use super::RunInfo;
use crate::history::History;

const WIDTH_PX: u64 = 1_200;
const PLOT_LEFT_PX: u64 = 140;
const PLOT_RIGHT_PX: u64 = 1_180;
const LANES_TOP_PX: u64 = 74;
const LANE_HEIGHT_PX: u64 = 22;
const LANE_GAP_PX: u64 = 6;
/// Axis ticks are at most this many.
const TICKS_MAX: u64 = 15;
/// A leader span narrower than this gets no term label.
const TERM_LABEL_MIN_PX: f64 = 28.0;

const TERM_COLOURS: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
];
const UNAVAILABLE_COLOUR: &str = "#e15759";
const NO_LEADER_COLOUR: &str = "#9a9a9a";

fn fault_colour(kind: &str) -> &'static str {
    match kind {
        "kill-leader" => "#d62728",
        "kill-minority" => "#ff7f0e",
        "pause-leader" => "#9467bd",
        "isolate-leader" => "#1f77b4",
        "split" => "#17becf",
        "kill-agent" => "#8c564b",
        _ => "#7f7f7f",
    }
}

/// Who claimed to lead from `start_ms` to `end_ms` (`None`: nobody).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LeaderSpan {
    leader: Option<u64>,
    term: u64,
    start_ms: u64,
    end_ms: u64,
}

/// Maps times to x coordinates.
struct Scale {
    end_ms: u64,
}

impl Scale {
    fn x(&self, ms: u64) -> f64 {
        let width = (PLOT_RIGHT_PX - PLOT_LEFT_PX) as f64;
        PLOT_LEFT_PX as f64 + width * ms.min(self.end_ms) as f64 / self.end_ms as f64
    }
}

pub(super) fn render(info: &RunInfo, history: &History, measures: &Measures) -> String {
    let scale = Scale {
        end_ms: measures.end_ms.max(info.duration_ms).max(1),
    };
    let spans = leader_spans(history, scale.end_ms);
    let controllers = controller_ids(info, history, &spans);
    let lane_count = 2 + controllers.len() as u64;
    let lanes_bottom = LANES_TOP_PX + lane_count * (LANE_HEIGHT_PX + LANE_GAP_PX);
    let axis_y = lanes_bottom + 4;
    let legend_y = axis_y + 40;
    let height = legend_y + 16;
    let lane_y = |lane: u64| LANES_TOP_PX + lane * (LANE_HEIGHT_PX + LANE_GAP_PX);

    let mut svg = String::new();
    let _ = writeln!(svg, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH_PX}" height="{height}" viewBox="0 0 {WIDTH_PX} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH_PX}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{PLOT_LEFT_PX}" y="20" font-size="15" font-weight="bold">{}</text>"#,
        escape(&format!(
            "Corral chaos run, seed {}: {} controllers, {} agents, {} fault(s)",
            info.seed,
            info.controllers,
            info.agents,
            history.faults.len()
        ))
    );

    lane_labels(&mut svg, &controllers, &lane_y);
    fault_bands(&mut svg, history, &scale, lanes_bottom);
    unavailable(&mut svg, measures, &scale, lane_y(0), lanes_bottom);
    for span in &spans {
        let lane = match span.leader {
            None => 1,
            Some(id) => 2 + controllers.iter().position(|c| *c == id).unwrap_or(0) as u64,
        };
        leader_span(&mut svg, span, &scale, lane_y(lane));
    }
    axis(&mut svg, &scale, axis_y);
    legend(&mut svg, legend_y);
    let _ = writeln!(svg, "</svg>");
    svg
}

fn lane_labels(svg: &mut String, controllers: &[u64], lane_y: &dyn Fn(u64) -> u64) {
    let mut names = vec!["acknowledged".to_string(), "no leader".to_string()];
    names.extend(controllers.iter().map(|id| format!("controller {id}")));
    for (lane, name) in names.iter().enumerate() {
        let y = lane_y(lane as u64);
        let _ = writeln!(
            svg,
            r##"<rect class="lane" x="{PLOT_LEFT_PX}" y="{y}" width="{}" height="{LANE_HEIGHT_PX}" fill="#f4f4f4"/>"##,
            PLOT_RIGHT_PX - PLOT_LEFT_PX
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            PLOT_LEFT_PX - 8,
            y + LANE_HEIGHT_PX / 2 + 4,
            escape(name)
        );
    }
}

fn fault_bands(svg: &mut String, history: &History, scale: &Scale, lanes_bottom: u64) {
    for (number, fault) in history.faults.iter().enumerate() {
        let start = scale.x(fault.started_ms);
        let end = scale
            .x(fault.healed_ms.unwrap_or(scale.end_ms))
            .max(start + 1.0);
        let colour = fault_colour(&fault.kind);
        let label = format!("#{} {} {}", fault.id, fault.kind, fault.targets.join(","));
        let title = format!(
            "{label}{}: {:.1} s to {}{}",
            if fault.hit_leader {
                " (the leader)"
            } else {
                ""
            },
            fault.started_ms as f64 / 1000.0,
            fault
                .healed_ms
                .map_or("the end (never healed)".to_string(), |ms| format!(
                    "{:.1} s",
                    ms as f64 / 1000.0
                )),
            if fault.detail.is_empty() {
                String::new()
            } else {
                format!(", {}", fault.detail)
            }
        );
        // Labels alternate between two rows so that neighbours do not overlap.
        let label_y = if number % 2 == 0 { 44 } else { 60 };
        let _ = writeln!(
            svg,
            r#"<g><title>{}</title><rect class="fault" x="{start:.1}" y="{}" width="{:.1}" height="{}" fill="{colour}" fill-opacity="0.16" stroke="{colour}" stroke-opacity="0.6"/><text x="{start:.1}" y="{label_y}" fill="{colour}">{}</text></g>"#,
            escape(&title),
            label_y + 4,
            end - start,
            lanes_bottom - (label_y + 4),
            escape(&label)
        );
    }
}

fn unavailable(svg: &mut String, measures: &Measures, scale: &Scale, top: u64, bottom: u64) {
    for window in &measures.unavailable {
        let start = scale.x(window.start_ms);
        let width = (scale.x(window.end_ms) - start).max(1.0);
        let title = format!(
            "no submission acknowledged from {:.1} s to {:.1} s",
            window.start_ms as f64 / 1000.0,
            window.end_ms as f64 / 1000.0
        );
        let _ = writeln!(
            svg,
            r#"<g><title>{}</title><rect class="unavailable" x="{start:.1}" y="{top}" width="{width:.1}" height="{}" fill="{UNAVAILABLE_COLOUR}" fill-opacity="0.12"/><rect x="{start:.1}" y="{top}" width="{width:.1}" height="{LANE_HEIGHT_PX}" fill="{UNAVAILABLE_COLOUR}"/></g>"#,
            escape(&title),
            bottom - top,
        );
    }
}

fn leader_span(svg: &mut String, span: &LeaderSpan, scale: &Scale, y: u64) {
    let start = scale.x(span.start_ms);
    let width = (scale.x(span.end_ms) - start).max(1.0);
    let (colour, title) = match span.leader {
        Some(id) => (
            TERM_COLOURS[(span.term % TERM_COLOURS.len() as u64) as usize],
            format!("controller {id} led term {}", span.term),
        ),
        None => (NO_LEADER_COLOUR, format!("no leader (term {})", span.term)),
    };
    let title = format!(
        "{title} from {:.1} s to {:.1} s",
        span.start_ms as f64 / 1000.0,
        span.end_ms as f64 / 1000.0
    );
    let class = if span.leader.is_some() {
        "lead"
    } else {
        "no-leader"
    };
    let _ = write!(
        svg,
        r#"<g><title>{}</title><rect class="{class}" x="{start:.1}" y="{y}" width="{width:.1}" height="{LANE_HEIGHT_PX}" fill="{colour}"/>"#,
        escape(&title)
    );
    if span.leader.is_some() && width >= TERM_LABEL_MIN_PX {
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11" fill="white">t{}</text>"#,
            start + 3.0,
            y + LANE_HEIGHT_PX / 2 + 4,
            span.term
        );
    }
    let _ = writeln!(svg, "</g>");
}

fn axis(svg: &mut String, scale: &Scale, y: u64) {
    let _ = writeln!(
        svg,
        r#"<line x1="{PLOT_LEFT_PX}" y1="{y}" x2="{PLOT_RIGHT_PX}" y2="{y}" stroke="black"/>"#
    );
    let step_s = tick_step_s(scale.end_ms);
    let mut tick_s = 0;
    while tick_s * 1000 <= scale.end_ms {
        let x = scale.x(tick_s * 1000);
        let _ = writeln!(
            svg,
            r##"<g class="tick"><line x1="{x:.1}" y1="{LANES_TOP_PX}" x2="{x:.1}" y2="{}" stroke="#000" stroke-opacity="0.08"/><line x1="{x:.1}" y1="{y}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{tick_s} s</text></g>"##,
            y,
            y + 5,
            y + 18
        );
        tick_s += step_s;
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="end">time since start</text>"#,
        PLOT_LEFT_PX - 22,
        y + 18
    );
}

fn legend(svg: &mut String, y: u64) {
    let mut x = PLOT_LEFT_PX;
    let mut item = |svg: &mut String, colour: &str, opacity: &str, text: &str| {
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{}" width="14" height="10" fill="{colour}" fill-opacity="{opacity}"/><text x="{}" y="{y}">{}</text>"#,
            y - 9,
            x + 18,
            escape(text)
        );
        x += 24 + 7 * text.len() as u64;
    };
    item(
        svg,
        UNAVAILABLE_COLOUR,
        "1",
        "no submission acknowledged while attempted",
    );
    item(svg, NO_LEADER_COLOUR, "1", "no leader");
    item(svg, TERM_COLOURS[1], "1", "led, colour and label by term");
    item(
        svg,
        fault_colour("kill-leader"),
        "0.3",
        "fault, from injection to healing",
    );
}

/// The smallest step, in whole seconds, that gives at most [`TICKS_MAX`] ticks.
fn tick_step_s(end_ms: u64) -> u64 {
    const STEPS_S: [u64; 14] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200,
    ];
    STEPS_S
        .into_iter()
        .find(|step| end_ms / (step * 1000) < TICKS_MAX)
        .unwrap_or(end_ms.div_ceil(TICKS_MAX * 1000).max(1))
}

/// Spans from the leader observations: each observation holds until the
/// next observation time (several at one time are all drawn); consecutive
/// spans of the same leader and term are merged.
fn leader_spans(history: &History, end_ms: u64) -> Vec<LeaderSpan> {
    let observations = &history.leaders;
    let mut spans: Vec<LeaderSpan> = Vec::new();
    let mut index = 0;
    while index < observations.len() {
        let at_ms = observations[index].at_ms;
        let same_time = observations[index..].partition_point(|o| o.at_ms == at_ms);
        let next_ms = observations
            .get(index + same_time)
            .map_or(end_ms, |o| o.at_ms);
        for observation in &observations[index..index + same_time] {
            let merged = spans.iter_mut().rev().find(|span| {
                span.leader == observation.leader
                    && span.term == observation.term
                    && span.end_ms == at_ms
            });
            match merged {
                Some(span) => span.end_ms = next_ms,
                None => spans.push(LeaderSpan {
                    leader: observation.leader,
                    term: observation.term,
                    start_ms: at_ms,
                    end_ms: next_ms,
                }),
            }
        }
        index += same_time;
    }
    spans
}

/// Controllers 1..=n, and any other id the history names.
fn controller_ids(info: &RunInfo, history: &History, spans: &[LeaderSpan]) -> Vec<u64> {
    let mut ids: BTreeSet<u64> = (1..=info.controllers as u64).collect();
    ids.extend(spans.iter().filter_map(|span| span.leader));
    ids.extend(history.final_state.controllers.iter().map(|c| c.id));
    ids.into_iter().collect()
}

/// Text and attribute values, escaped for XML.
fn escape(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::testing::*;

    /// Checks that `text` is structurally well-formed XML: tags balance,
    /// one root element, no raw `<` or `&` outside tags and entities.
    /// Returns the root element's name.
    fn well_formed(text: &str) -> Result<String, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut root = None;
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            check_text(&rest[..open])?;
            let close = rest[open..].find('>').ok_or("unclosed tag")? + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if tag.contains('<') {
                return Err(format!("'<' inside tag {tag:?}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
                if open != name.trim() {
                    return Err(format!("<{open}> closed by </{name}>"));
                }
                continue;
            }
            let name = tag
                .split_whitespace()
                .next()
                .ok_or("empty tag")?
                .trim_end_matches('/')
                .to_string();
            check_text(tag)?;
            if stack.is_empty() {
                if root.is_some() {
                    return Err(format!("second root <{name}>"));
                }
                root = Some(name.clone());
            }
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        check_text(rest)?;
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?}"));
        }
        root.ok_or("no element".to_string())
    }

    fn check_text(text: &str) -> Result<(), String> {
        for (at, _) in text.match_indices('&') {
            let entity = &text[at..text[at..].find(';').map_or(text.len(), |end| at + end + 1)];
            if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity) {
                return Err(format!("raw '&' in {text:?}"));
            }
        }
        Ok(())
    }

    fn info() -> RunInfo {
        RunInfo {
            seed: 5,
            controllers: 3,
            duration_ms: 20_000,
            ..RunInfo::default()
        }
    }

    fn svg_of(history: &History) -> String {
        render(&info(), history, &Measures::new(history))
    }

    #[test]
    fn the_timeline_is_well_formed_with_a_band_per_fault() {
        let mut history = clean_history();
        history
            .faults
            .push(fault_of(2, "split", "controller-2 & <3>", 12_000, None));
        history.faults[1].detail = "majority \"1\"".to_string();
        let svg = svg_of(&history);
        assert_eq!(well_formed(&svg), Ok("svg".to_string()), "{svg}");
        assert_eq!(svg.matches(r#"class="fault""#).count(), 2);
        assert!(svg.contains("#2 split controller-2 &amp; &lt;3&gt;"));
        assert!(svg.contains("majority &quot;1&quot;"));
        for lane in [
            "acknowledged",
            "no leader",
            "controller 1",
            "controller 2",
            "controller 3",
        ] {
            assert!(svg.contains(&format!(">{lane}</text>")), "{lane}");
        }
        assert!(svg.contains(">0 s</text>") && svg.contains(">20 s</text>"));
    }

    #[test]
    fn the_checker_of_well_formedness_catches_broken_xml() {
        assert!(well_formed("<svg><g></svg>").is_err());
        assert!(well_formed("<svg>a & b</svg>").is_err());
        assert!(well_formed("<svg/><svg/>").is_err());
        assert_eq!(
            well_formed("<?xml?><svg><g/><t>&amp;</t></svg>"),
            Ok("svg".to_string())
        );
    }

    #[test]
    fn unavailability_is_shaded() {
        let history = History {
            operations: vec![
                submit_ok(1, "a", 1, 0, 100),
                submit_unknown(2, "b", 200, 5_200),
                submit_ok(3, "c", 2, 5_300, 5_400),
            ],
            ..History::default()
        };
        let svg = svg_of(&history);
        assert_eq!(well_formed(&svg), Ok("svg".to_string()));
        assert_eq!(svg.matches(r#"class="unavailable""#).count(), 1);
        assert!(svg.contains("no submission acknowledged from 0.2 s to 5.4 s"));
    }

    #[test]
    fn leader_spans_merge_and_split_by_term() {
        let history = History {
            leaders: vec![
                leader_at(0, Some(1), 1),
                leader_at(500, Some(1), 1),
                leader_at(1_000, None, 1),
                leader_at(2_000, Some(2), 2),
                leader_at(2_000, Some(1), 1),
                leader_at(3_000, Some(2), 2),
            ],
            ..History::default()
        };
        let span = |leader, term, start_ms, end_ms| LeaderSpan {
            leader,
            term,
            start_ms,
            end_ms,
        };
        assert_eq!(
            leader_spans(&history, 4_000),
            vec![
                span(Some(1), 1, 0, 1_000),
                span(None, 1, 1_000, 2_000),
                span(Some(2), 2, 2_000, 4_000),
                span(Some(1), 1, 2_000, 3_000),
            ]
        );
        let svg = svg_of(&history);
        assert_eq!(well_formed(&svg), Ok("svg".to_string()));
        assert_eq!(svg.matches(r#"class="lead""#).count(), 3);
        assert!(svg.contains(">t2</text>"));
    }

    #[test]
    fn ticks_are_few_and_round() {
        assert_eq!(tick_step_s(10_000), 1);
        assert_eq!(tick_step_s(20_000), 2);
        assert_eq!(tick_step_s(600_000), 60);
        assert_eq!(tick_step_s(3_600_000), 300);
    }
}
