"""Agreement between bot replicas: locks that keep one run of a phase at a time and claims that let a
redelivered request act once, in Redis with an in-process fallback while Redis is down."""
