//! Extraction over the five sets of `extraction/`, beside trafilatura: F1 per set by the
//! shared scorer, the macro average, and the speed pooled over every page.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{bench_dir, machine, run_python, sorted_paths, tempfile_dir, venv_python};

/// The extraction sets, each scored with its metric (`snippets` for trafilatura-eval, whose
/// pages have no full ground truth).
const EXTRACTION_SETS: [(&str, &str); 5] = [
    ("zyte", "zyte"),
    ("wcxb-dev", "zyte"),
    ("dragnet", "zyte"),
    ("readability", "zyte"),
    ("trafilatura-eval", "snippets"),
];

/// What separates an article from its comment thread in the expected texts of the
/// dragnet set (as merged from the dragnet data's content and comment annotations).
const COMMENTS_MARKER: &str = "!@#$%^&*() COMMENTS";

/// One set's figures: pages, bytes, feedwatch's median time and F1, trafilatura's F1.
struct SetFigures {
    name: &'static str,
    pages: usize,
    bytes: usize,
    secs: f64,
    f1: f64,
    trafilatura_f1: f64,
    /// For a set whose expected texts carry readers' comments: the F1s (feedwatch's,
    /// trafilatura's) against the article alone, the text before [`COMMENTS_MARKER`].
    /// feedwatch leaves comments out on purpose (a watch must not alert on a reader's
    /// comment), as the bench runs trafilatura.
    article_only: Option<(f64, f64)>,
}

/// Extraction over the five sets: the pooled speeds, each set's figures, the macro averages.
pub(crate) struct ExtractFigures {
    /// Pooled over every set: bytes / seconds, one core.
    pub(crate) mb_s: f64,
    pub(crate) trafilatura_mb_s: f64,
    sets: Vec<SetFigures>,
    /// The mean of the sets' F1s.
    pub(crate) macro_f1: f64,
    pub(crate) trafilatura_macro_f1: f64,
    /// The same with each set that carries comments scored on its articles alone.
    article_macro_f1: f64,
    trafilatura_article_macro_f1: f64,
    /// The per-set table, as printed.
    table: String,
}

/// Extraction over the five sets of `extraction/`: every page through `extract_article` on
/// one core (the median of three passes), one text file per page, each set scored by
/// `../shared/tools/score_extraction.py` with its metric; then trafilatura (Python, in a venv
/// the bench makes) on the same pages, scored the same way. `KEEP=DIR` keeps the predictions
/// and per-page score tables there, by set, to study failures.
pub(crate) fn bench_extract(corpora: &Path) -> ExtractFigures {
    let run = Run {
        work: tempfile_dir(),
        keep: std::env::var_os("KEEP").map(PathBuf::from),
        python: venv_python(&["lxml_html_clean", "trafilatura"]),
        scorer: corpora.join("../tools/score_extraction.py"),
    };
    let mut sets = Vec::new();
    let mut trafilatura_secs = 0.0;
    for (name, metric) in EXTRACTION_SETS {
        let (set, secs) = run.set(&corpora.join("extraction").join(name), name, metric);
        sets.push(set);
        trafilatura_secs += secs;
    }
    let _ = std::fs::remove_dir_all(&run.work);
    let figures = ExtractFigures::new(sets, trafilatura_secs);
    print!("{}", figures.table);
    println!(
        "\nfeedwatch extracts {:.0}x as fast as trafilatura (pooled over the five sets)",
        figures.mb_s / figures.trafilatura_mb_s
    );
    figures
}

/// Where one extraction run works: its scratch folder, the folder `KEEP` names, the venv's
/// Python and the scorer.
struct Run {
    work: PathBuf,
    keep: Option<PathBuf>,
    python: PathBuf,
    scorer: PathBuf,
}

impl Run {
    /// One set's figures, and the CPU seconds trafilatura took over it.
    fn set(&self, dataset: &Path, name: &'static str, metric: &str) -> (SetFigures, f64) {
        let bodies = read_pages(&dataset.join("html"));
        let out = self.work.join(name);
        std::fs::create_dir_all(&out).unwrap();
        let (secs, texts) = time_extraction(&bodies);
        for ((id, _), text) in bodies.iter().zip(&texts) {
            std::fs::write(out.join(format!("{id}.txt")), text).unwrap();
        }
        let per_page = self.keep.as_ref().map(|k| k.join(format!("{name}.tsv")));
        let f1 = score(&self.scorer, dataset, &out, metric, per_page);

        let traf_out = self.work.join(format!("{name}-trafilatura"));
        let trafilatura_secs = self.trafilatura(dataset, &traf_out);
        let trafilatura_f1 = score(&self.scorer, dataset, &traf_out, metric, None);
        let article_only =
            articles_only(dataset, &self.work.join(format!("{name}-articles"))).map(|articles| {
                (
                    score(&self.scorer, &articles, &out, metric, None),
                    score(&self.scorer, &articles, &traf_out, metric, None),
                )
            });
        if let Some(dir) = &self.keep {
            let pred = dir.join("pred").join(name);
            let _ = std::fs::remove_dir_all(&pred);
            std::fs::create_dir_all(pred.parent().unwrap()).unwrap();
            std::fs::rename(&out, pred).unwrap();
        }
        let set = SetFigures {
            name,
            pages: bodies.len(),
            bytes: bodies.iter().map(|(_, b)| b.len()).sum(),
            secs,
            f1,
            trafilatura_f1,
            article_only,
        };
        (set, trafilatura_secs)
    }

    /// trafilatura over a set's pages, one text file per page in `out`: the CPU seconds it
    /// took, as `py_extract.py` measures them.
    fn trafilatura(&self, dataset: &Path, out: &Path) -> f64 {
        let t = run_python(&self.python, "py_extract.py", &[&dataset.join("html"), out]);
        t["cpu_s"].as_f64().unwrap()
    }
}

impl ExtractFigures {
    /// The pooled speed and the macro averages of `sets`, and their table.
    fn new(sets: Vec<SetFigures>, trafilatura_secs: f64) -> ExtractFigures {
        let bytes = sets.iter().map(|s| s.bytes).sum::<usize>() as f64;
        let secs: f64 = sets.iter().map(|s| s.secs).sum();
        let mean = |f: fn(&SetFigures) -> f64| sets.iter().map(f).sum::<f64>() / sets.len() as f64;
        let (macro_f1, trafilatura_macro_f1) = (mean(|s| s.f1), mean(|s| s.trafilatura_f1));
        let article_macro_f1 = mean(|s| s.article_only.map_or(s.f1, |a| a.0));
        let trafilatura_article_macro_f1 =
            mean(|s| s.article_only.map_or(s.trafilatura_f1, |a| a.1));
        let mut figures = ExtractFigures {
            mb_s: bytes / secs / 1e6,
            trafilatura_mb_s: bytes / trafilatura_secs / 1e6,
            macro_f1,
            trafilatura_macro_f1,
            article_macro_f1,
            trafilatura_article_macro_f1,
            table: String::new(),
            sets,
        };
        figures.table = figures.render_table();
        figures
    }

    /// The per-set table: a row per set, the macro average, and for a set whose expected
    /// texts carry comments a row for its articles alone with the macro average it gives.
    fn render_table(&self) -> String {
        let bytes: usize = self.sets.iter().map(|s| s.bytes).sum();
        let mut table = String::from(
            "| set | pages | MB | feedwatch MB/s (1 core) | feedwatch F1 | trafilatura F1 |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for s in &self.sets {
            let metric = if s.name == "trafilatura-eval" {
                " (snippets)"
            } else {
                ""
            };
            let _ = writeln!(
                table,
                "| {}{metric} | {} | {:.1} | {:.0} | {:.3} | {:.3} |",
                s.name,
                s.pages,
                s.bytes as f64 / 1e6,
                s.bytes as f64 / s.secs / 1e6,
                s.f1,
                s.trafilatura_f1
            );
        }
        let _ = writeln!(
            table,
            "| **macro average** | {} | {:.1} | {:.0} (pooled) | **{:.3}** | **{:.3}** |",
            self.sets.iter().map(|s| s.pages).sum::<usize>(),
            bytes as f64 / 1e6,
            self.mb_s,
            self.macro_f1,
            self.trafilatura_macro_f1
        );
        let cut: Vec<&str> = self
            .sets
            .iter()
            .filter(|s| s.article_only.is_some())
            .map(|s| s.name)
            .collect();
        if cut.is_empty() {
            return table;
        }
        for s in &self.sets {
            if let Some((f1, trafilatura_f1)) = s.article_only {
                let _ = writeln!(
                    table,
                    "| {}, articles without their comments | | | | {f1:.3} | {trafilatura_f1:.3} |",
                    s.name
                );
            }
        }
        let _ = writeln!(
            table,
            "| macro average, {} without comments | | | | {:.3} | {:.3} |",
            cut.join(", "),
            self.article_macro_f1,
            self.trafilatura_article_macro_f1
        );
        table
    }
}

/// Markers around the per-set extraction table in `bench/RESULTS.md`, which `extract`
/// rewrites alone (its git history is the per-commit record of the five sets).
const EXTRACT_START: &str = "<!-- extract: written by `feedwatch-bench extract` -->";
const EXTRACT_END: &str = "<!-- /extract -->";

pub(crate) fn extract_section(f: &ExtractFigures) -> String {
    format!(
        "{EXTRACT_START}\nExtraction on the five sets ({}, {}):\n\n{}{EXTRACT_END}\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        f.table
    )
}

/// The extraction figures of `bench/results.json`, by key.
pub(crate) fn extract_results(f: &ExtractFigures) -> serde_json::Map<String, serde_json::Value> {
    let num = |v: f64| serde_json::json!((v * 1000.0).round() / 1000.0);
    let mut out = serde_json::Map::new();
    out.insert("extract_mb_s".into(), num(f.mb_s));
    out.insert("extract_f1_macro".into(), num(f.macro_f1));
    out.insert(
        "extract_f1_macro_trafilatura".into(),
        num(f.trafilatura_macro_f1),
    );
    out.insert(
        "extract_vs_trafilatura".into(),
        num(f.mb_s / f.trafilatura_mb_s),
    );
    for set in &f.sets {
        out.insert(format!("extract_f1_{}", set.name), num(set.f1));
        out.insert(
            format!("extract_f1_{}_trafilatura", set.name),
            num(set.trafilatura_f1),
        );
        if let Some((f1, trafilatura_f1)) = set.article_only {
            out.insert(format!("extract_f1_{}_articles", set.name), num(f1));
            out.insert(
                format!("extract_f1_{}_articles_trafilatura", set.name),
                num(trafilatura_f1),
            );
        }
    }
    if f.sets.iter().any(|s| s.article_only.is_some()) {
        out.insert("extract_f1_macro_articles".into(), num(f.article_macro_f1));
        out.insert(
            "extract_f1_macro_articles_trafilatura".into(),
            num(f.trafilatura_article_macro_f1),
        );
    }
    out
}

/// Replaces the extraction figures in `bench/results.json`, the others left as the last
/// full run wrote them (and the one-set `extract_f1` of earlier runs dropped).
pub(crate) fn update_extract_results(f: &ExtractFigures) {
    let path = bench_dir().join("results.json");
    let mut results: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    results.remove("extract_f1");
    results.extend(extract_results(f));
    let sorted: std::collections::BTreeMap<_, _> = results.into_iter().collect();
    std::fs::write(&path, serde_json::to_string_pretty(&sorted).unwrap() + "\n").unwrap();
    eprintln!("wrote the extraction figures in bench/results.json");
}

/// Replaces the extraction table in `bench/RESULTS.md` (or adds it).
pub(crate) fn update_extract_section(f: &ExtractFigures) {
    let path = bench_dir().join("RESULTS.md");
    let md = std::fs::read_to_string(&path).unwrap_or_default();
    let section = extract_section(f);
    let updated = match (md.find(EXTRACT_START), md.find(EXTRACT_END)) {
        (Some(a), Some(b)) if a < b => {
            // One blank line between the table and what follows it.
            let rest = md[b + EXTRACT_END.len()..].trim_start_matches('\n');
            let gap = if rest.is_empty() { "" } else { "\n" };
            format!("{}{section}{gap}{rest}", &md[..a])
        }
        _ => format!("{md}\n{section}"),
    };
    std::fs::write(&path, updated).unwrap();
    eprintln!("wrote the extraction table in bench/RESULTS.md");
}

/// For a set whose expected texts carry readers' comments after [`COMMENTS_MARKER`]: a
/// copy of it in `dir` (its index and expected texts) whose texts end before the marker,
/// to score extraction on the articles alone. `None` when no text carries the marker.
fn articles_only(dataset: &Path, dir: &Path) -> Option<PathBuf> {
    let expected = dataset.join("expected");
    let texts: Vec<(std::ffi::OsString, String)> = std::fs::read_dir(&expected)
        .ok()?
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            (e.file_name(), String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect();
    if !texts.iter().any(|(_, t)| t.contains(COMMENTS_MARKER)) {
        return None;
    }
    std::fs::create_dir_all(dir.join("expected")).unwrap();
    std::fs::copy(dataset.join("index.tsv"), dir.join("index.tsv")).unwrap();
    for (name, text) in texts {
        let article = text.split(COMMENTS_MARKER).next().unwrap_or_default();
        std::fs::write(dir.join("expected").join(name), article).unwrap();
    }
    Some(dir.to_path_buf())
}

/// Every page of a folder: (id, bytes), by id.
fn read_pages(dir: &Path) -> Vec<(String, Vec<u8>)> {
    sorted_paths(dir)
        .iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

/// The median of three passes of extraction over `bodies` (one pass can take a third of a
/// second, where a stray scheduler hiccup shows), and the texts.
fn time_extraction(bodies: &[(String, Vec<u8>)]) -> (f64, Vec<String>) {
    let mut texts = Vec::new();
    let mut passes: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            texts = bodies
                .iter()
                .map(|(_, body)| {
                    let html = feedwatch::fetch::decode_html(body, None);
                    feedwatch::clean::extract_article(&html).text
                })
                .collect();
            start.elapsed().as_secs_f64()
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    (passes[1], texts)
}

/// The F1 of one folder of predictions for one set, with its metric (`zyte` or `snippets`),
/// by `scorer` (`score_extraction.py`).
fn score(
    scorer: &Path,
    dataset: &Path,
    predictions: &Path,
    metric: &str,
    per_page: Option<PathBuf>,
) -> f64 {
    let json = predictions.with_extension("score.json");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(scorer)
        .arg(dataset)
        .arg(predictions)
        .arg("--metric")
        .arg(metric)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::null());
    if let Some(path) = per_page {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        cmd.arg("--per-page").arg(path);
    }
    assert!(
        matches!(cmd.status(), Ok(s) if s.success()),
        "could not run {}",
        scorer.display()
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    v[metric]["f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("the scorer reports {metric}.f1"))
}
