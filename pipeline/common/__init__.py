"""What every stage shares: params.yaml validation, the command line, atomic outputs, memory plans.

  params   params.yaml loading and validation (`param(...)` declarations, errors naming the key)
  cli      stage argument parsing and one-line errors instead of tracebacks
  fileio   JSON, CSV and text outputs written atomically; CSV tables read back
  publish  a stage's outputs published as a unit (all old or all new)
  plan     refuse a run whose memory cannot fit, naming the setting
"""
