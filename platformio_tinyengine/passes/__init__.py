"""Graph passes, run in order by the pipeline before lowering."""
