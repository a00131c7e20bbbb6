--- KooDrive users operations (issue 12: being written).
return {}
