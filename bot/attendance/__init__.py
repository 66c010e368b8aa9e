"""Attendance (2.16 punch cards) and sign-ins (2.17): records and summaries,
for commands and the daily digest."""
