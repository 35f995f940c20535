"""Plots of localization results: the paper's Figures 2 and 4, per-class AP and precision–recall.

Install the optional extra first: ``pip install 'wtal_blocks[viz]'`` (matplotlib).

========================================  ==========================================================
function                                  draws
========================================  ==========================================================
:func:`plot_localization`                 one video and class: fused CAS, normalised magnitude ``u``,
                                          detections as bars of their score, ground truth beneath
                                          (paper Fig. 4)
:func:`plot_magnitude_histograms`         feature magnitudes of action vs background segments, for
                                          one or more models, e.g. before / after training (Fig. 2)
:func:`plot_class_ap`                     per-class AP as a bar chart
:func:`plot_precision_recall`             precision–recall curves
                                          (:func:`wtal_blocks.evaluation.precision_recall`)
:func:`write_evaluation_plots`            the plots of ``wtal-eval --plots DIR``
:func:`write_localization_plots`          the plots of ``wtal-um evaluate --plots DIR``
========================================  ==========================================================

The figures draw what they are given. The curves come from the evaluator
(:mod:`wtal_blocks.evaluation.curves`), and what a model outputs for a plot is computed in the
recipe layer (:mod:`wtal_blocks.recipes.inspect`); this package never imports torch.
"""

from __future__ import annotations

from .figures import (
    Plot,
    plot_class_ap,
    plot_localization,
    plot_magnitude_histograms,
    plot_precision_recall,
)
from .reports import write_evaluation_plots, write_localization_plots

__all__ = [
    "Plot",
    "plot_class_ap",
    "plot_localization",
    "plot_magnitude_histograms",
    "plot_precision_recall",
    "write_evaluation_plots",
    "write_localization_plots",
]
