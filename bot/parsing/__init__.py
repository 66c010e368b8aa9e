"""What users type, parsed: time expressions, durations, clock times, registration rows."""
