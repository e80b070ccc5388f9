//! `edgescore eval`: how well a pipeline separates fraud from the rest on a
//! labeled file. At fraud's imbalance accuracy says nothing (allowing
//! everything is 99% accurate), so this reports what does: the confusion
//! matrix at the configured thresholds, precision, recall and F1, ROC-AUC,
//! and PR-AUC (average precision), which the base rate bounds from below.
//!
//! A metric the data leave undefined is reported as undefined, with the
//! reason, never as a number: ROC-AUC needs both classes (scikit-learn's
//! `roc_auc_score` answers NaN, "not defined"), average precision needs a
//! positive (scikit-learn answers 0 with a warning), precision needs a
//! flagged event and recall a positive (scikit-learn: 0 with a warning). F1 is
//! `2 TP / (2 TP + FP + FN)`, as scikit-learn computes it, so it is undefined
//! only with neither a positive nor a flagged event.

use std::fmt;
use std::fmt::Write as _;

use edgescore_runtime::pipeline::Thresholds;

/// One labeled score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labeled {
    pub score: f64,
    pub positive: bool,
}

/// Counts at one threshold: flagged means score >= threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Confusion {
    pub true_positive: u64,
    pub false_positive: u64,
    pub true_negative: u64,
    pub false_negative: u64,
}

impl Confusion {
    pub fn at(data: &[Labeled], threshold: f64) -> Self {
        let mut c = Self::default();
        for d in data {
            match (d.score >= threshold, d.positive) {
                (true, true) => c.true_positive += 1,
                (true, false) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (false, true) => c.false_negative += 1,
            }
        }
        c
    }

    /// TP / (TP + FP); undefined when nothing is flagged.
    pub fn precision(&self) -> Metric {
        Metric::ratio(
            self.true_positive,
            self.true_positive + self.false_positive,
            "nothing flagged",
        )
    }

    /// TP / (TP + FN); undefined without a positive label.
    pub fn recall(&self) -> Metric {
        Metric::ratio(
            self.true_positive,
            self.true_positive + self.false_negative,
            NO_POSITIVES,
        )
    }

    /// 2 TP / (2 TP + FP + FN): the harmonic mean of precision and recall
    /// where both are defined, 0 without a true positive, undefined with
    /// neither a positive nor a flagged event.
    pub fn f1(&self) -> Metric {
        Metric::ratio(
            2 * self.true_positive,
            2 * self.true_positive + self.false_positive + self.false_negative,
            "no positive labels and nothing flagged",
        )
    }
}

const NO_POSITIVES: &str = "no positive labels";
const NO_NEGATIVES: &str = "no negative labels";
const NO_EVENTS: &str = "no events";

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A metric's value, or why the data leave it undefined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    Value(f64),
    /// The reason, in a few words: "no positive labels".
    Undefined(&'static str),
}

impl Metric {
    fn ratio(a: u64, b: u64, undefined: &'static str) -> Self {
        if b == 0 {
            Self::Undefined(undefined)
        } else {
            Self::Value(a as f64 / b as f64)
        }
    }

    pub fn value(self) -> Option<f64> {
        match self {
            Self::Value(v) => Some(v),
            Self::Undefined(_) => None,
        }
    }
}

/// The value with the formatter's precision (`{:.4}`), or
/// `undefined (<reason>)`.
impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, f.precision()) {
            (Self::Value(v), Some(digits)) => write!(f, "{v:.digits$}"),
            (Self::Value(v), None) => write!(f, "{v}"),
            (Self::Undefined(why), _) => write!(f, "undefined ({why})"),
        }
    }
}

/// Points of a curve: (x, y).
pub type Curve = Vec<(f64, f64)>;

/// Everything `edgescore eval` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub events: u64,
    pub positives: u64,
    pub thresholds: Thresholds,
    /// Flagged = review or block.
    pub at_review: Confusion,
    /// Flagged = block.
    pub at_block: Confusion,
    /// Undefined unless both classes are present.
    pub roc_auc: Metric,
    /// Average precision: the area under the precision-recall step curve.
    /// Undefined without a positive label.
    pub pr_auc: Metric,
    /// (false positive rate, true positive rate), from (0, 0) to (1, 1);
    /// empty where ROC-AUC is undefined.
    pub roc: Curve,
    /// (recall, precision), by decreasing threshold; empty where PR-AUC is
    /// undefined.
    pub pr: Curve,
}

impl Report {
    pub fn new(data: &[Labeled], thresholds: Thresholds) -> Self {
        let positives = data.iter().filter(|d| d.positive).count() as u64;
        let negatives = data.len() as u64 - positives;
        let mut sorted: Vec<Labeled> = data.to_vec();
        sorted.sort_by(|a, b| b.score.total_cmp(&a.score));
        // Walk thresholds from the highest score down; equal scores move together.
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut roc = vec![(0.0, 0.0)];
        let mut pr = Vec::new();
        let (mut roc_auc, mut pr_auc, mut last_recall) = (0.0, 0.0, 0.0);
        let mut i = 0;
        while i < sorted.len() {
            let score = sorted[i].score;
            while i < sorted.len() && sorted[i].score.total_cmp(&score).is_eq() {
                if sorted[i].positive {
                    tp += 1
                } else {
                    fp += 1
                }
                i += 1;
            }
            let tpr = ratio(tp, positives);
            let fpr = ratio(fp, negatives);
            let (last_fpr, last_tpr) = roc[roc.len() - 1];
            roc_auc += (fpr - last_fpr) * (tpr + last_tpr) / 2.0;
            roc.push((fpr, tpr));
            let precision = ratio(tp, tp + fp);
            pr_auc += (tpr - last_recall) * precision;
            last_recall = tpr;
            pr.push((tpr, precision));
        }
        let (roc_auc, roc) = match (positives, negatives) {
            (0, 0) => (Metric::Undefined(NO_EVENTS), Vec::new()),
            (0, _) => (Metric::Undefined(NO_POSITIVES), Vec::new()),
            (_, 0) => (Metric::Undefined(NO_NEGATIVES), Vec::new()),
            _ => (Metric::Value(roc_auc), roc),
        };
        let (pr_auc, pr) = match (positives, negatives) {
            (0, 0) => (Metric::Undefined(NO_EVENTS), Vec::new()),
            (0, _) => (Metric::Undefined(NO_POSITIVES), Vec::new()),
            _ => (Metric::Value(pr_auc), pr),
        };
        Self {
            events: data.len() as u64,
            positives,
            thresholds,
            at_review: Confusion::at(data, thresholds.review),
            at_block: Confusion::at(data, thresholds.block),
            roc_auc,
            pr_auc,
            roc,
            pr,
        }
    }

    /// One line for standard error when a curve metric is undefined, saying
    /// what the labels lack; `None` when both are defined. (PR-AUC is
    /// undefined only where ROC-AUC is too.)
    pub fn warning(&self) -> Option<String> {
        let Metric::Undefined(why) = self.roc_auc else {
            return None;
        };
        let what = match self.pr_auc {
            Metric::Value(_) => "ROC-AUC is",
            Metric::Undefined(_) => "ROC-AUC and PR-AUC are",
        };
        Some(format!(
            "{what} undefined ({why}): check the label column, or evaluate a file that holds \
             both classes"
        ))
    }

    /// The report as text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let base = ratio(self.positives, self.events);
        let _ = writeln!(
            out,
            "{} events, {} positive (base rate {:.3}%)\n",
            self.events,
            self.positives,
            100.0 * base
        );
        for (what, threshold, c) in [
            ("review or block", self.thresholds.review, &self.at_review),
            ("block", self.thresholds.block, &self.at_block),
        ] {
            let _ = writeln!(out, "flagged = {what} (score >= {threshold}):");
            let _ = writeln!(out, "                 flagged   not flagged");
            let _ = writeln!(
                out,
                "  positive  {:>12}  {:>12}",
                c.true_positive, c.false_negative
            );
            let _ = writeln!(
                out,
                "  negative  {:>12}  {:>12}",
                c.false_positive, c.true_negative
            );
            let _ = writeln!(
                out,
                "  precision {:.4}   recall {:.4}   F1 {:.4}\n",
                c.precision(),
                c.recall(),
                c.f1()
            );
        }
        let _ = writeln!(out, "ROC-AUC  {:.4}", self.roc_auc);
        let _ = match self.pr_auc {
            // Defined only with a positive label, so the base rate is not 0.
            Metric::Value(ap) => writeln!(
                out,
                "PR-AUC   {ap:.4}  (average precision; {:.1}x the base rate)",
                ap / base
            ),
            undefined => writeln!(out, "PR-AUC   {undefined}"),
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(labels: &[u8], scores: &[f64]) -> Vec<Labeled> {
        labels
            .iter()
            .zip(scores)
            .map(|(&l, &s)| Labeled {
                score: s,
                positive: l == 1,
            })
            .collect()
    }

    const T: Thresholds = Thresholds {
        review: 0.5,
        block: 0.9,
    };

    fn close(metric: Metric, expected: f64) -> bool {
        metric.value().is_some_and(|v| (v - expected).abs() < 1e-12)
    }

    /// The examples of scikit-learn's `roc_auc_score` and
    /// `average_precision_score` documentation: 0.75 and 0.8333.
    #[test]
    fn matches_scikit_learn_documented_examples() {
        let report = Report::new(&data(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]), T);
        assert!(close(report.roc_auc, 0.75), "{}", report.roc_auc);
        assert!(
            close(report.pr_auc, 0.833_333_333_333_333_4),
            "{}",
            report.pr_auc
        );
        assert_eq!(report.warning(), None);
    }

    #[test]
    fn ties_count_as_one_threshold() {
        // All scores equal: ROC is the diagonal, AP is the base rate.
        let report = Report::new(&data(&[1, 0, 0, 0], &[0.3; 4]), T);
        assert!(close(report.roc_auc, 0.5));
        assert!(close(report.pr_auc, 0.25));
    }

    #[test]
    fn confusion_at_thresholds() {
        let report = Report::new(&data(&[1, 1, 0, 0, 1], &[0.95, 0.6, 0.7, 0.1, 0.2]), T);
        assert_eq!(
            report.at_review,
            Confusion {
                true_positive: 2,
                false_positive: 1,
                true_negative: 1,
                false_negative: 1
            }
        );
        assert_eq!(report.at_block.true_positive, 1);
        assert!(close(report.at_review.precision(), 2.0 / 3.0));
        assert!(close(report.at_review.recall(), 2.0 / 3.0));
        assert!(close(report.at_review.f1(), 2.0 / 3.0));
    }

    /// scikit-learn: `roc_auc_score` is NaN ("not defined") with one class,
    /// `average_precision_score` 0 with a warning without positives. Both
    /// are reported as undefined, with the reason, never as 0.0000.
    #[test]
    fn no_positive_labels_leaves_the_curves_undefined() {
        let report = Report::new(&data(&[0, 0, 0], &[0.1, 0.6, 0.95]), T);
        assert_eq!(report.roc_auc, Metric::Undefined("no positive labels"));
        assert_eq!(report.pr_auc, Metric::Undefined("no positive labels"));
        assert!(report.roc.is_empty() && report.pr.is_empty());
        assert_eq!(
            report.at_review.recall(),
            Metric::Undefined("no positive labels")
        );
        // Two false positives: precision 0 and F1 0 are defined.
        assert!(close(report.at_review.precision(), 0.0));
        assert!(close(report.at_review.f1(), 0.0));
        let text = report.to_text();
        assert!(
            text.contains("ROC-AUC  undefined (no positive labels)\n"),
            "{text}"
        );
        assert!(
            text.contains("PR-AUC   undefined (no positive labels)\n"),
            "{text}"
        );
        assert!(
            text.contains("recall undefined (no positive labels)"),
            "{text}"
        );
        assert!(!text.contains("AUC  0.0000") && !text.contains("AUC   0.0000"));
        let warning = report.warning().expect("a warning");
        assert!(
            warning.starts_with("ROC-AUC and PR-AUC are undefined (no positive labels)"),
            "{warning}"
        );
    }

    /// scikit-learn: ROC-AUC undefined, average precision 1 (every flagged
    /// event is a positive).
    #[test]
    fn no_negative_labels_leaves_only_roc_undefined() {
        let report = Report::new(&data(&[1, 1, 1], &[0.1, 0.6, 0.95]), T);
        assert_eq!(report.roc_auc, Metric::Undefined("no negative labels"));
        assert!(close(report.pr_auc, 1.0), "{}", report.pr_auc);
        let text = report.to_text();
        assert!(
            text.contains("ROC-AUC  undefined (no negative labels)\n"),
            "{text}"
        );
        assert!(
            text.contains("PR-AUC   1.0000  (average precision"),
            "{text}"
        );
        assert_eq!(
            report.warning().as_deref(),
            Some(
                "ROC-AUC is undefined (no negative labels): check the label column, or \
                 evaluate a file that holds both classes"
            )
        );
    }

    /// scikit-learn's precision with nothing predicted positive is 0 with a
    /// warning ("ill-defined"); F1 is 0 there (2 TP / (2 TP + FP + FN)).
    #[test]
    fn nothing_flagged_leaves_precision_undefined() {
        let report = Report::new(&data(&[1, 0, 0], &[0.2, 0.1, 0.3]), T);
        let c = report.at_review;
        assert_eq!(c.precision(), Metric::Undefined("nothing flagged"));
        assert!(close(c.recall(), 0.0));
        assert!(close(c.f1(), 0.0));
        assert!(
            report
                .to_text()
                .contains("precision undefined (nothing flagged)   recall 0.0000   F1 0.0000")
        );
        let none = Confusion::at(&data(&[0, 0], &[0.1, 0.2]), 0.5);
        assert_eq!(
            none.f1(),
            Metric::Undefined("no positive labels and nothing flagged")
        );
    }

    #[test]
    fn an_empty_file_has_no_curves() {
        let report = Report::new(&[], T);
        assert_eq!(report.roc_auc, Metric::Undefined("no events"));
        assert_eq!(report.pr_auc, Metric::Undefined("no events"));
        assert!(report.to_text().contains("ROC-AUC  undefined (no events)"));
    }

    #[test]
    fn metrics_print_with_the_requested_digits() {
        assert_eq!(format!("{:.4}", Metric::Value(0.5)), "0.5000");
        assert_eq!(format!("{}", Metric::Value(0.5)), "0.5");
        assert_eq!(
            format!("{:.4}", Metric::Undefined("nothing flagged")),
            "undefined (nothing flagged)"
        );
    }
}
