"""Publishing: an on-disk spool of events and an MQTT 5 publisher that drains it in order."""
