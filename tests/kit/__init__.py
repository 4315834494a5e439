"""The test kit: fakes at the ports, factories, and end-to-end helpers shared by the tests
(no test lives here)."""
