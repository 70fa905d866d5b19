"""Management reports: the lead funnel, lead sources, hand-off response times, the test-drive
show rate, satisfaction, NPS and complaints, as CSV tables and PNG charts.

``metrics`` reads the database into typed rows (no rendering), ``charts`` draws them (matplotlib,
imported only when charts are drawn), ``build`` writes the files. The CLI (`dealer-assistant
report`) and the managers' ``/report`` in Telegram both go through ``build``.
"""
