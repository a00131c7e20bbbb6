-- conf.lua: a small window and only the LÖVE modules the example uses (no audio, sound,
-- joystick, physics or video: the example needs no sound device, e.g. under xvfb-run).
-- luacheck: globals love
function love.conf(t)
  t.identity = "koodrive-love-example"
  t.version = "11.0"
  t.window.title = "koodrive in LÖVE"
  t.window.width, t.window.height = 320, 120
  t.modules.audio, t.modules.sound = false, false
  t.modules.joystick, t.modules.physics, t.modules.video = false, false, false
  t.modules.touch = false
end
