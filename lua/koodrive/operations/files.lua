--- KooDrive files operations (issue 12: being written).
return {}
