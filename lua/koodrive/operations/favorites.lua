--- KooDrive favorites operations (issue 12: being written).
return {}
