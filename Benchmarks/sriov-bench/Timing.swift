/// A duration in milliseconds, as every benchmark here reports them.
func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
