"""A fleet of hosts: the index-backed fleet store and the agent of a host reporting upstream."""
