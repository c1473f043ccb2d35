"""Where a server is: mmdb readers and the locator that turns an IP into a Destination."""
