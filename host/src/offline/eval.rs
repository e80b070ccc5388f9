//! `edgescore eval`: how well a pipeline separates fraud from the rest on a
//! labeled file. At fraud's imbalance accuracy says nothing (allowing
//! everything is 99% accurate), so this reports what does: the confusion
//! matrix at the configured thresholds, precision, recall and F1, ROC-AUC,
//! and PR-AUC (average precision), which the base rate bounds from below.

use std::fmt::Write as _;

use crate::pipeline::Thresholds;

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

    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
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
    pub roc_auc: f64,
    /// Average precision: the area under the precision-recall step curve.
    pub pr_auc: f64,
    /// (false positive rate, true positive rate), from (0, 0) to (1, 1).
    pub roc: Curve,
    /// (recall, precision), by decreasing threshold.
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
        let _ = writeln!(
            out,
            "PR-AUC   {:.4}  (average precision; {:.1}x the base rate)",
            self.pr_auc,
            if base > 0.0 { self.pr_auc / base } else { 0.0 }
        );
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

    /// The examples of scikit-learn's `roc_auc_score` and
    /// `average_precision_score` documentation: 0.75 and 0.8333.
    #[test]
    fn matches_scikit_learn_documented_examples() {
        let report = Report::new(&data(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]), T);
        assert!((report.roc_auc - 0.75).abs() < 1e-12, "{}", report.roc_auc);
        assert!(
            (report.pr_auc - 0.833_333_333_333_333_4).abs() < 1e-12,
            "{}",
            report.pr_auc
        );
    }

    #[test]
    fn ties_count_as_one_threshold() {
        // All scores equal: ROC is the diagonal, AP is the base rate.
        let report = Report::new(&data(&[1, 0, 0, 0], &[0.3; 4]), T);
        assert!((report.roc_auc - 0.5).abs() < 1e-12);
        assert!((report.pr_auc - 0.25).abs() < 1e-12);
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
        assert!((report.at_review.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((report.at_review.recall() - 2.0 / 3.0).abs() < 1e-12);
    }
}
