"""Binary-classifier metrics with numpy: ROC-AUC (ties averaged), precision/recall/F1 at a
threshold, and the threshold table written into model cards."""

from __future__ import annotations

import numpy as np

THRESHOLDS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half):
    the Mann-Whitney U statistic over n_pos * n_neg."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    n_pos, n_neg = len(positive), len(negative)
    if not n_pos or not n_neg:
        return float("nan")
    _, inverse, counts = np.unique(np.concatenate([positive, negative]), return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank of each distinct value, ties averaged
    rank_sum = average_rank[inverse[:n_pos]].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def at_threshold(positive: np.ndarray, negative: np.ndarray, threshold: float) -> dict:
    """Counting `score >= threshold` as a positive prediction."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    tp = int((positive >= threshold).sum())
    fp = int((negative >= threshold).sum())
    fn = len(positive) - tp
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = len(positive) + len(negative)
    return {"threshold": threshold, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "kept_fraction": round((tp + fp) / total, 4) if total else 0.0,
            "kept_fraction_negative": round(fp / len(negative), 4) if len(negative) else 0.0}


def threshold_table(positive, negative, thresholds=THRESHOLDS) -> list[dict]:
    """threshold -> kept fraction (of all, and of the negatives), precision and recall."""
    return [{k: row[k] for k in ("threshold", "kept_fraction", "kept_fraction_negative", "precision", "recall")}
            for row in (at_threshold(positive, negative, t) for t in thresholds)]


def evaluate(positive, negative, threshold: float = 0.5) -> dict:
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    point = at_threshold(positive, negative, threshold)
    return {"roc_auc": round(roc_auc(positive, negative), 4),
            "precision": point["precision"], "recall": point["recall"], "f1": point["f1"], "threshold": threshold,
            "n_positive": len(positive), "n_negative": len(negative),
            "mean_score_positive": round(float(positive.mean()), 4) if len(positive) else None,
            "mean_score_negative": round(float(negative.mean()), 4) if len(negative) else None}
