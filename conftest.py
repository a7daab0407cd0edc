"""Settings for every test run, the notebooks under nbval included."""

from jupyter_client.channels import HBChannel

# nbval's kernel client pings the kernel every second and, when a reply is late, closes its
# heartbeat socket and opens a new one. On a loaded 2-core machine replies are late for
# whole notebooks, and the sockets opened that way once reached ZeroMQ's limit of 1,023
# per context ("Too many open files" in the heartbeat thread, an error under pytest). A
# 10-second beat leaves a busy kernel alone; a dead kernel still fails its cell.
HBChannel.time_to_dead = 10.0
