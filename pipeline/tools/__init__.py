"""Command-line tools around the pipeline (`python -m pipeline.tools.<name>`).

  check_repro  rerun the pipeline in a fresh clone and compare with what is committed
  runcache     push the run-cache and the files its entries name to a DVC remote
  deps         write each stage's code deps in dvc.yaml from its script's import closure
  plots_template  write the page `dvc plots` fills, with the plotting libraries inline (renders offline)
"""
