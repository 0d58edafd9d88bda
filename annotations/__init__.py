"""annotations: the DuckDB store of campaigns and blind pairwise judgments, and the statistics over them.
Never imports torch or transformers: it reads the files that ft_core writes."""
