"""The command-line tools, on top of every other layer.

* ``wtal-eval`` (:mod:`.eval`): detection mAP from files; imports numpy only (and matplotlib
  with ``--plots``), never torch.
* ``wtal-um`` (:mod:`.um`): the UM recipe: train, evaluate, demo, ablation.

Each prints a one-line error and exits with status 2 on bad input.
"""
