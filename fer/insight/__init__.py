"""Sessions -> decisions: participants, statistics over them, aggregates, comparisons of builds and groups,
trends, the producer's report and clips of key moments. Reads what fer.playtest writes; imports no TensorFlow."""
